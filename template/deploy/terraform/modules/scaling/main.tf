locals {
  resource_id = "service/${var.cluster_name}/${var.service_name}"

  predefined_metrics = ["ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"]
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = local.resource_id
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity

  tags = var.tags

  lifecycle {
    # deploy/execute.sh suspends scaling while a deployment runs and resumes it
    # afterwards; an apply in between must not undo that.
    ignore_changes = [suspended_state]

    precondition {
      condition     = var.min_capacity <= var.max_capacity
      error_message = "min_capacity must not exceed max_capacity."
    }

    precondition {
      condition     = !contains([for policy in var.policies : policy.metric], "ALBRequestCountPerTarget") || (var.load_balancer_arn_suffix != null && length(var.target_group_arn_suffixes) > 0)
      error_message = "An ALBRequestCountPerTarget policy needs load_balancer_arn_suffix and target_group_arn_suffixes."
    }
  }
}

resource "aws_appautoscaling_policy" "this" {
  for_each = { for policy in var.policies : policy.name => policy }

  name               = each.key
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = var.scale_in_cooldown_seconds
    scale_out_cooldown = var.scale_out_cooldown_seconds

    dynamic "predefined_metric_specification" {
      for_each = contains(local.predefined_metrics, each.value.metric) ? [each.value.metric] : []

      content {
        predefined_metric_type = predefined_metric_specification.value
      }
    }

    # Requests per task. The predefined ALBRequestCountPerTarget follows one
    # target group, but CodeDeploy moves the traffic to the other group on
    # every deployment, so this counts the requests of both groups and divides
    # them by the service's running tasks (Container Insights). While a
    # deployment runs both task sets count as running tasks; scaling is
    # suspended for that time (deploy/execute.sh), so the halved figure never
    # scales the service in.
    dynamic "customized_metric_specification" {
      for_each = each.value.metric == "ALBRequestCountPerTarget" ? [each.value.metric] : []

      content {
        metrics {
          id          = "per_task"
          label       = "Requests per task"
          expression  = "(${join(" + ", [for index in range(length(var.target_group_arn_suffixes)) : "FILL(requests${index}, 0)"])}) / tasks"
          return_data = true
        }

        dynamic "metrics" {
          for_each = var.target_group_arn_suffixes

          content {
            id          = "requests${metrics.key}"
            return_data = false

            metric_stat {
              stat = "Sum"

              metric {
                namespace   = "AWS/ApplicationELB"
                metric_name = "RequestCount"

                dimensions {
                  name  = "LoadBalancer"
                  value = var.load_balancer_arn_suffix
                }

                dimensions {
                  name  = "TargetGroup"
                  value = metrics.value
                }
              }
            }
          }
        }

        metrics {
          id          = "tasks"
          return_data = false

          metric_stat {
            stat = "Average"

            metric {
              namespace   = "ECS/ContainerInsights"
              metric_name = "RunningTaskCount"

              dimensions {
                name  = "ClusterName"
                value = var.cluster_name
              }

              dimensions {
                name  = "ServiceName"
                value = var.service_name
              }
            }
          }
        }
      }
    }
  }
}
