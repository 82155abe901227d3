variable "app_name" {
  description = "Name of the CodeDeploy application."
  type        = string
}

variable "deployment_group_name" {
  description = "Name of the deployment group."
  type        = string
}

variable "role_name" {
  description = "Name of CodeDeploy's service role."
  type        = string
}

variable "cluster_name" {
  description = "ECS cluster of the service."
  type        = string
}

variable "service_name" {
  description = "ECS service CodeDeploy deploys (it must use the CODE_DEPLOY deployment controller)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster of the service; CodeDeploy may start task sets in it only."
  type        = string
}

variable "service_arn" {
  description = "ARN of the ECS service; CodeDeploy may manage its task sets only."
  type        = string
}

variable "task_role_arns" {
  description = "Roles the service's task definitions name (execution and task role): CodeDeploy passes them to ECS with each new task set."
  type        = list(string)
}

variable "hook_function_prefix" {
  description = "Name prefix of the Lambda functions CodeDeploy may invoke as lifecycle hooks of a deployment."
  type        = string
}

variable "prod_listener_arn" {
  description = "Listener of production traffic."
  type        = string
}

variable "test_listener_arn" {
  description = "Listener of test traffic, pointed at the new version before production traffic moves."
  type        = string
}

variable "blue_target_group" {
  description = "The blue target group: its name and ARN suffix (for the alarms)."
  type = object({
    name       = string
    arn_suffix = string
  })
}

variable "green_target_group" {
  description = "The green target group: its name and ARN suffix (for the alarms)."
  type = object({
    name       = string
    arn_suffix = string
  })
}

variable "load_balancer_arn_suffix" {
  description = "ARN suffix of the load balancer, the LoadBalancer dimension of the alarms' metrics."
  type        = string
}

variable "deployment_config_name" {
  description = "A predefined config (CodeDeployDefault.ECSAllAtOnce) when traffic_shift is null; otherwise the name of the config made here, which must change with traffic_shift (a new config replaces the old one before it is deleted)."
  type        = string
  default     = "CodeDeployDefault.ECSAllAtOnce"
}

variable "traffic_shift" {
  description = "Gradual traffic shift: TimeBasedCanary (percent, then the rest after minutes) or TimeBasedLinear (percent every minutes); null moves all traffic at once."
  type = object({
    type    = string
    percent = number
    minutes = number
  })
  default = null

  validation {
    condition     = var.traffic_shift == null || contains(["TimeBasedCanary", "TimeBasedLinear"], try(var.traffic_shift.type, ""))
    error_message = "The traffic shift type must be TimeBasedCanary or TimeBasedLinear."
  }

  validation {
    condition     = var.traffic_shift == null || (try(var.traffic_shift.percent, 0) >= 1 && try(var.traffic_shift.percent, 0) <= 99)
    error_message = "The traffic shift percent must be between 1 and 99."
  }

  validation {
    condition     = var.traffic_shift == null || try(var.traffic_shift.minutes, 0) >= 1
    error_message = "The traffic shift interval must be at least 1 minute."
  }
}

variable "approval_timeout_minutes" {
  description = "0: production traffic moves as soon as the new version is healthy; more: the deployment waits that long for a manual continue, then stops."
  type        = number
  default     = 0

  validation {
    condition     = var.approval_timeout_minutes >= 0 && var.approval_timeout_minutes <= 2880
    error_message = "The approval timeout must be between 0 and 2880 minutes (2 days)."
  }
}

variable "blue_termination_minutes" {
  description = "Minutes the old version keeps running after the switch, the window for a fast rollback."
  type        = number
  default     = 5

  validation {
    condition     = var.blue_termination_minutes >= 0 && var.blue_termination_minutes <= 2880
    error_message = "The blue termination wait must be between 0 and 2880 minutes (2 days)."
  }
}

variable "rollback_events" {
  description = "Events that roll a deployment back: DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM; empty for none."
  type        = list(string)
  default     = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]

  validation {
    condition     = alltrue([for event in var.rollback_events : contains(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"], event)])
    error_message = "Rollback events are DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM and DEPLOYMENT_STOP_ON_REQUEST."
  }
}

variable "alarm_name_prefix" {
  description = "Prefix of the alarm names."
  type        = string
}

variable "alarm_http_5xx_percent" {
  description = "Share of requests (percent) answered with a 5xx by the application that stops a deployment; null for no such alarm."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_http_5xx_percent == null || (coalesce(var.alarm_http_5xx_percent, 0) > 0 && coalesce(var.alarm_http_5xx_percent, 0) <= 100)
    error_message = "The 5xx share must be more than 0 and at most 100 percent."
  }
}

variable "alarm_p99_latency_ms" {
  description = "p99 response time (milliseconds) that stops a deployment; null for no such alarm."
  type        = number
  default     = null

  validation {
    condition     = var.alarm_p99_latency_ms == null || coalesce(var.alarm_p99_latency_ms, 0) > 0
    error_message = "The p99 latency threshold must be positive."
  }
}

variable "alarm_period_seconds" {
  description = "Period of the alarms' metrics."
  type        = number
  default     = 60
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods that set an alarm off."
  type        = number
  default     = 2
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
