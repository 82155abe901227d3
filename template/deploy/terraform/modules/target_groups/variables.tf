variable "blue_name" {
  description = "Name of the blue target group (the one production starts on)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$", var.blue_name))
    error_message = "A target group name has 1 to 32 letters, digits and hyphens, and does not start or end with a hyphen."
  }
}

variable "green_name" {
  description = "Name of the green target group."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$", var.green_name))
    error_message = "A target group name has 1 to 32 letters, digits and hyphens, and does not start or end with a hyphen."
  }
}

variable "vpc_id" {
  description = "VPC of the targets."
  type        = string
}

variable "port" {
  description = "Port the container listens on; the tasks register with it."
  type        = number

  validation {
    condition     = var.port >= 1 && var.port <= 65535
    error_message = "The port must be between 1 and 65535."
  }
}

variable "health_check" {
  description = "Health check of the targets: path probed over HTTP (200-399 is healthy), timings in seconds."
  type = object({
    path                = string
    interval_seconds    = optional(number, 10)
    timeout_seconds     = optional(number, 5)
    healthy_threshold   = optional(number, 2)
    unhealthy_threshold = optional(number, 3)
  })

  validation {
    condition     = startswith(var.health_check.path, "/")
    error_message = "The health check path must start with '/'."
  }

  validation {
    condition     = var.health_check.timeout_seconds < var.health_check.interval_seconds
    error_message = "The health check timeout must be shorter than its interval."
  }

  validation {
    condition = alltrue([
      for threshold in [var.health_check.healthy_threshold, var.health_check.unhealthy_threshold] :
      threshold >= 2 && threshold <= 10
    ])
    error_message = "Health check thresholds must be between 2 and 10."
  }
}

variable "deregistration_delay_seconds" {
  description = "How long a deregistering target keeps serving its open requests."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay_seconds >= 0 && var.deregistration_delay_seconds <= 3600
    error_message = "The deregistration delay must be between 0 and 3600 seconds."
  }
}

variable "tags" {
  description = "Tags of the target groups, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
