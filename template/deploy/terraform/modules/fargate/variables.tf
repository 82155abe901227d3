variable "region" {
  description = "AWS region of the service, where the awslogs driver sends the container's logs."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
}

variable "service_name" {
  description = "Name of the ECS service."
  type        = string
}

variable "task_family" {
  description = "Family of the task definition; every deployment registers a new revision of it."
  type        = string
}

variable "container_name" {
  description = "Name of the application container (the AppSpec of a deployment names it too)."
  type        = string
}

variable "image" {
  description = "Image of the container, by digest (REPOSITORY@sha256:...); the pipeline sets it to the image of the commit it deploys."
  type        = string
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "The container port must be between 1 and 65535."
  }
}

variable "cpu" {
  description = "Fargate CPU units of a task (1024 = 1 vCPU)."
  type        = number

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "Fargate CPU units are one of 256, 512, 1024, 2048, 4096, 8192 and 16384."
  }
}

variable "memory" {
  description = "Memory of a task in MiB; Fargate accepts only certain amounts for each cpu."
  type        = number
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64 (Graviton)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The CPU architecture must be X86_64 or ARM64."
  }
}

variable "command" {
  description = "Command of the container, overriding the image's; null keeps the image's."
  type        = list(string)
  default     = null
}

variable "environment" {
  description = "Plain environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables read at start from SSM parameters or Secrets Manager secrets: NAME = ARN."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for arn in values(var.secrets) :
      can(regex("^arn:[a-z-]+:(ssm|secretsmanager):[a-z0-9-]+:[0-9]{12}:(parameter/|secret:)", arn))
    ])
    error_message = "Every secret must be the ARN of an SSM parameter or a Secrets Manager secret."
  }
}

variable "container_health_check" {
  description = "Docker health check of the container (the command must exist in the image); null for none."
  type = object({
    command              = list(string)
    interval_seconds     = optional(number, 30)
    timeout_seconds      = optional(number, 5)
    retries              = optional(number, 3)
    start_period_seconds = optional(number, 60)
  })
  default = null
}

variable "readonly_root_filesystem" {
  description = "Whether the container's root filesystem is read-only."
  type        = bool
  default     = false
}

variable "log_group_name" {
  description = "Name of the CloudWatch log group of the container's output."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the container's output."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The retention must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "execution_role_name" {
  description = "Name of the task execution role (used by ECS: image pull, logs, secrets)."
  type        = string
}

variable "task_role_name" {
  description = "Name of the task role (used by the application)."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ECR repository the execution role may pull from."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (they get no public IP)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "The tasks need at least one subnet."
  }
}

variable "security_group_name" {
  description = "Name of the tasks' security group."
  type        = string
}

variable "load_balancer_security_group_id" {
  description = "Security group of the load balancer, the only source the tasks accept traffic from."
  type        = string
}

variable "target_group_arn" {
  description = "Target group the service starts on (blue); CodeDeploy switches it afterwards."
  type        = string
}

variable "listener_arns" {
  description = "Listeners that forward to the target groups: the service is created after them."
  type        = list(string)
  default     = []
}

variable "desired_count" {
  description = "Task count when the service is created (0 before there is an image to run); autoscaling manages it afterwards."
  type        = number

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "The task count must be a whole number, 0 or more."
  }
}

variable "platform_version" {
  description = "Fargate platform version of the tasks."
  type        = string
  default     = "LATEST"
}

variable "spot" {
  description = "Run on Fargate Spot, with one task always on regular Fargate."
  type        = bool
  default     = false
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing load balancer health checks of a starting task."
  type        = number
  default     = 60
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary of every role this module creates (the deploy role may create roles only with it)."
  type        = string
}

variable "tags" {
  description = "Tags of the resources, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
