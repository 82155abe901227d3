"""The local AWS emulator: moto in server mode with documented patches, seeding, and a
terraform runner pointed at it. `bluegreen demo` and the test suite use it; nothing
here talks to real AWS."""
