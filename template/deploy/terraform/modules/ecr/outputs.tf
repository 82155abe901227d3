output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "URL of the repository (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME), for docker push and task definitions."
  value       = aws_ecr_repository.this.repository_url
}

output "deployed_tag_prefix" {
  description = "Tag prefix of the images deployments ran; the lifecycle policy keeps them."
  value       = var.deployed_tag_prefix
}
