variable "cluster_name" {
  description = "ECS cluster of the service."
  type        = string
}

variable "service_name" {
  description = "ECS service whose task count is scaled."
  type        = string
}

variable "min_capacity" {
  description = "Fewest tasks."
  type        = number

  validation {
    condition     = var.min_capacity >= 1
    error_message = "Keep at least one task."
  }
}

variable "max_capacity" {
  description = "Most tasks."
  type        = number
}

variable "policies" {
  description = "Target tracking policies: name, metric (ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization or ALBRequestCountPerTarget) and target value (percent, or requests per task per minute)."
  type = list(object({
    name   = string
    metric = string
    target = number
  }))
  default = []

  validation {
    condition = alltrue([
      for policy in var.policies :
      contains(["ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization", "ALBRequestCountPerTarget"], policy.metric)
    ])
    error_message = "Policy metrics are ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget."
  }

  validation {
    condition     = length(distinct([for policy in var.policies : policy.name])) == length(var.policies)
    error_message = "Policy names must be unique."
  }
}

variable "scale_in_cooldown_seconds" {
  description = "Seconds after a scale-in before the next scale-in."
  type        = number
  default     = 300
}

variable "scale_out_cooldown_seconds" {
  description = "Seconds after a scale-out before the next scale-out."
  type        = number
  default     = 60
}

variable "load_balancer_arn_suffix" {
  description = "ARN suffix of the load balancer (for the requests-per-task policy)."
  type        = string
  default     = null
}

variable "target_group_arn_suffixes" {
  description = "ARN suffixes of the target groups that can hold the service's tasks (for the requests-per-task policy)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of the scalable target, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
