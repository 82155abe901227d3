# Partition, region and account of the service, for the ARNs of the hook functions.
data "aws_arn" "cluster" {
  arn = var.cluster_arn
}

locals {
  # CodeDeploy starts each new version in whichever target group is idle, so
  # both groups get the alarms: either can hold the replacement tasks.
  target_groups = {
    blue  = var.blue_target_group
    green = var.green_target_group
  }

  alarm_names = concat(
    [for alarm in aws_cloudwatch_metric_alarm.http_5xx : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.p99_latency : alarm.alarm_name],
  )

  alarm_arns = concat(
    [for alarm in aws_cloudwatch_metric_alarm.http_5xx : alarm.arn],
    [for alarm in aws_cloudwatch_metric_alarm.p99_latency : alarm.arn],
  )

  listener_arns = [var.prod_listener_arn, var.test_listener_arn]
  # Rules live under their listener, task sets under their service.
  listener_rule_arns = [for arn in local.listener_arns : "${replace(arn, ":listener/", ":listener-rule/")}/*"]
  task_set_arns      = "${replace(var.service_arn, ":service/", ":task-set/")}/*"
  hook_function_arns = format(
    "arn:%s:lambda:%s:%s:function:%s*",
    data.aws_arn.cluster.partition, data.aws_arn.cluster.region, data.aws_arn.cluster.account, var.hook_function_prefix,
  )
}

################################################################################
# Alarms that stop (and roll back) a deployment
################################################################################

resource "aws_cloudwatch_metric_alarm" "http_5xx" {
  for_each = var.alarm_http_5xx_percent == null ? {} : local.target_groups

  alarm_name          = "${var.alarm_name_prefix}-${each.key}-5xx"
  alarm_description   = "More than ${var.alarm_http_5xx_percent}% of the requests to the ${each.key} target group end in a 5xx from the application"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_http_5xx_percent
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "share"
    label       = "Target 5xx share (%)"
    expression  = "100 * FILL(errors, 0) / requests"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      stat        = "Sum"
      period      = var.alarm_period_seconds
      dimensions = {
        LoadBalancer = var.load_balancer_arn_suffix
        TargetGroup  = each.value.arn_suffix
      }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      stat        = "Sum"
      period      = var.alarm_period_seconds
      dimensions = {
        LoadBalancer = var.load_balancer_arn_suffix
        TargetGroup  = each.value.arn_suffix
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "p99_latency" {
  for_each = var.alarm_p99_latency_ms == null ? {} : local.target_groups

  alarm_name          = "${var.alarm_name_prefix}-${each.key}-p99-latency"
  alarm_description   = "The ${each.key} target group's p99 response time exceeds ${var.alarm_p99_latency_ms} ms"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  period              = var.alarm_period_seconds
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_p99_latency_ms / 1000
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  treat_missing_data  = "notBreaching"

  dimensions = {
    LoadBalancer = var.load_balancer_arn_suffix
    TargetGroup  = each.value.arn_suffix
  }

  tags = var.tags
}

################################################################################
# Service role
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "CodeDeployAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  description          = "CodeDeploy shifts traffic of ${var.service_name} between blue and green"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

# What AWSCodeDeployRoleForECS allows on every resource of the account, narrowed
# to this service: its task sets, its listeners, its alarms, its hook functions
# and its task roles. No S3 or SNS: the AppSpec travels inline and no trigger
# notifies a topic.
data "aws_iam_policy_document" "this" {
  statement {
    sid = "TaskSetsOfTheService"
    actions = [
      "ecs:DeleteTaskSet",
      "ecs:DescribeServices",
      "ecs:UpdateServicePrimaryTaskSet",
    ]
    resources = [var.service_arn, local.task_set_arns]
  }

  statement {
    sid = "NewTaskSetsInTheClusterOnly"
    # CreateTaskSet has no resource-level permissions: IAM accepts only "*" for
    # it, so the cluster condition (one service per cluster) scopes it.
    actions   = ["ecs:CreateTaskSet"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid = "ReadListenersAndTargetGroups"
    # Describe calls of Elastic Load Balancing have no resource-level
    # permissions: IAM accepts only "*" for them.
    actions = [
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "SwitchTrafficOnTheServiceListeners"
    actions   = ["elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule"]
    resources = concat(local.listener_arns, local.listener_rule_arns)
  }

  dynamic "statement" {
    for_each = length(local.alarm_arns) == 0 ? [] : [local.alarm_arns]

    content {
      sid       = "ReadTheDeploymentAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = statement.value
    }
  }

  statement {
    sid       = "InvokeTheLifecycleHooksOfTheService"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.hook_function_arns]
  }

  statement {
    sid       = "PassTheTaskRolesToEcsOnly"
    actions   = ["iam:PassRole"]
    resources = var.task_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "blue-green-deployments"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

################################################################################
# Application, deployment config and deployment group
################################################################################

resource "aws_codedeploy_app" "this" {
  name             = var.app_name
  compute_platform = "ECS"

  tags = var.tags
}

# Every argument of a deployment config forces a new one, and CodeDeploy refuses
# to delete a config a deployment group uses. So its name says what it does (the
# model names it after type, percent and minutes) and the new one is made, and
# the group moved to it, before the old one is deleted.
resource "aws_codedeploy_deployment_config" "this" {
  count = var.traffic_shift == null ? 0 : 1

  deployment_config_name = var.deployment_config_name
  compute_platform       = "ECS"

  traffic_routing_config {
    type = var.traffic_shift.type

    dynamic "time_based_canary" {
      for_each = var.traffic_shift.type == "TimeBasedCanary" ? [var.traffic_shift] : []

      content {
        percentage = time_based_canary.value.percent
        interval   = time_based_canary.value.minutes
      }
    }

    dynamic "time_based_linear" {
      for_each = var.traffic_shift.type == "TimeBasedLinear" ? [var.traffic_shift] : []

      content {
        percentage = time_based_linear.value.percent
        interval   = time_based_linear.value.minutes
      }
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_codedeploy_deployment_group" "this" {
  app_name               = aws_codedeploy_app.this.name
  deployment_group_name  = var.deployment_group_name
  service_role_arn       = aws_iam_role.this.arn
  deployment_config_name = var.traffic_shift == null ? var.deployment_config_name : aws_codedeploy_deployment_config.this[0].deployment_config_name

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  blue_green_deployment_config {
    deployment_ready_option {
      # 0 minutes: production traffic moves as soon as the new tasks are healthy;
      # otherwise the deployment waits that long for a manual "continue".
      action_on_timeout    = var.approval_timeout_minutes == 0 ? "CONTINUE_DEPLOYMENT" : "STOP_DEPLOYMENT"
      wait_time_in_minutes = var.approval_timeout_minutes == 0 ? null : var.approval_timeout_minutes
    }

    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = var.blue_termination_minutes
    }
  }

  dynamic "auto_rollback_configuration" {
    for_each = length(var.rollback_events) == 0 ? [] : [var.rollback_events]

    content {
      enabled = true
      events  = auto_rollback_configuration.value
    }
  }

  dynamic "alarm_configuration" {
    for_each = length(local.alarm_names) == 0 ? [] : [local.alarm_names]

    content {
      enabled = true
      alarms  = alarm_configuration.value
    }
  }

  ecs_service {
    cluster_name = var.cluster_name
    service_name = var.service_name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [var.prod_listener_arn]
      }

      test_traffic_route {
        listener_arns = [var.test_listener_arn]
      }

      target_group {
        name = var.blue_target_group.name
      }

      target_group {
        name = var.green_target_group.name
      }
    }
  }

  tags = var.tags

  # The role must hold its permissions before CodeDeploy checks them.
  depends_on = [aws_iam_role_policy.this]
}
