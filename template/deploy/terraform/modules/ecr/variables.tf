variable "name" {
  description = "Name of the repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "The name must be a valid ECR repository name: lowercase letters, digits and . _ - / separators, at most 256 characters."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images; null encrypts with AES256 under an AWS-owned key."
  type        = string
  default     = null
}

variable "force_delete" {
  description = "Whether destroying the repository also deletes the images in it."
  type        = bool
  default     = false
}

variable "tagged_images_to_keep" {
  description = "How many tagged images that were never deployed to keep; older ones expire."
  type        = number
  default     = 30

  validation {
    condition     = var.tagged_images_to_keep >= 1 && floor(var.tagged_images_to_keep) == var.tagged_images_to_keep
    error_message = "Keep at least one tagged image (a whole number)."
  }
}

variable "deployed_tag_prefix" {
  description = "Tag prefix deploy/execute.sh gives every image it deploys; those images outlive the count of tagged images."
  type        = string
  default     = "deployed-"
}

variable "deployed_images_to_keep" {
  description = "How many deployed images to keep (the running one and the rollback targets are the most recent)."
  type        = number
  default     = 100

  validation {
    condition     = var.deployed_images_to_keep >= 2 && floor(var.deployed_images_to_keep) == var.deployed_images_to_keep
    error_message = "Keep at least two deployed images (the running one and a rollback target), a whole number."
  }
}

variable "untagged_image_days" {
  description = "Days after which untagged images (superseded layers of a tag) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_days >= 1 && floor(var.untagged_image_days) == var.untagged_image_days
    error_message = "The expiry must be a whole number of days, at least 1."
  }
}

variable "tags" {
  description = "Tags of the repository, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
