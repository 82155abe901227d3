"""bluegreen: render a service.yaml into an ECS Fargate blue/green service repository."""

__version__ = "0.2.0"
