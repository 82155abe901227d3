resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

# deploy/execute.sh tags every image it deploys (or rolls back to) once more,
# DEPLOYED_TAG_PREFIX then the time. Per "Lifecycle policy evaluation rules" of
# the Amazon ECR User Guide, an image that matches the tag selection of a rule
# can never be expired by a rule of lower priority: rule 1 protects the images
# environments have run (and may roll back to) from rule 3's count of pushes.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the ${var.deployed_images_to_keep} images deployed most recently"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = [var.deployed_tag_prefix]
          countType     = "imageCountMoreThan"
          countNumber   = var.deployed_images_to_keep
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Expire untagged images ${var.untagged_image_days} days after their push"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 3
        description  = "Keep the ${var.tagged_images_to_keep} most recent tagged images that were never deployed"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.tagged_images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}
