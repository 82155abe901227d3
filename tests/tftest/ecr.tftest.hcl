# The image repository's safe defaults, planned against a mock AWS provider.

mock_provider "aws" {}

variables {
  name = "svc-production"
}

run "repository_defaults" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "A pushed tag never changes: a rollback redeploys exactly what ran."
  }

  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Every pushed image is scanned."
  }

  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "AES256"
    error_message = "Images are encrypted at rest without a key to pay for."
  }

  assert {
    condition     = !aws_ecr_repository.this.force_delete
    error_message = "A destroy keeps the images unless asked otherwise."
  }
}

run "encrypted_with_a_given_kms_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef"
  }

  assert {
    condition = (
      aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS" &&
      aws_ecr_repository.this.encryption_configuration[0].kms_key == "arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef"
    )
    error_message = "A given KMS key encrypts the images."
  }
}
