variable "name" {
  description = "Name of the load balancer."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$", var.name)) && !startswith(var.name, "internal-")
    error_message = "A load balancer name has 1 to 32 letters, digits and hyphens, does not start or end with a hyphen, and does not start with 'internal-'."
  }
}

variable "security_group_name" {
  description = "Name of the load balancer's security group."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the load balancer."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets the load balancer lives in, at least two in different availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An application load balancer needs at least two subnets (in different availability zones)."
  }
}

variable "https" {
  description = "Serve production traffic over HTTPS on 443 (with a redirect from 80); false serves plain HTTP on 80."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listeners (validated); required when https is true."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listeners."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "test_listener_port" {
  description = "Port of the test listener, where the new version answers before it takes production traffic."
  type        = number
  default     = 8443

  validation {
    condition     = var.test_listener_port >= 1 && var.test_listener_port <= 65535 && !contains([80, 443], var.test_listener_port)
    error_message = "The test listener port must be between 1 and 65535, and neither 80 nor 443."
  }
}

variable "test_listener_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the test listener; keep it off the internet."
  type        = list(string)

  validation {
    condition     = alltrue([for cidr in var.test_listener_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every test listener CIDR must be an IPv4 CIDR block such as 10.0.0.0/16."
  }
}

variable "target_group_arn" {
  description = "Target group both listeners forward to until the first deployment (blue)."
  type        = string
}

variable "target_port" {
  description = "Port the targets listen on (the container port)."
  type        = number
}

variable "target_security_group_id" {
  description = "Security group of the targets; the load balancer may only send to it, on target_port."
  type        = string
}

variable "idle_timeout_seconds" {
  description = "Seconds a connection may be idle before the load balancer closes it."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout_seconds >= 1 && var.idle_timeout_seconds <= 4000
    error_message = "The idle timeout must be between 1 and 4000 seconds."
  }
}

variable "deletion_protection" {
  description = "Whether the load balancer refuses to be deleted (turn it off before a destroy)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for access logs (its policy must allow the regional ELB account to write); null disables them."
  type        = string
  default     = null
}

variable "access_logs_prefix" {
  description = "Key prefix of the access logs in the bucket."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the load balancer and its listeners, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
