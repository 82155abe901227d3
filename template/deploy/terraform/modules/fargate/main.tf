data "aws_caller_identity" "current" {}

locals {
  # Unset optional fields are left out of the container definition.
  container = {
    for key, value in {
      name      = var.container_name
      image     = var.image
      essential = true
      command   = var.command
      portMappings = [{
        containerPort = var.container_port
        hostPort      = var.container_port
        protocol      = "tcp"
      }]
      environment = length(var.environment) == 0 ? null : [
        for name, text in var.environment : { name = name, value = text }
      ]
      secrets = length(var.secrets) == 0 ? null : [
        for name, arn in var.secrets : { name = name, valueFrom = arn }
      ]
      healthCheck = var.container_health_check == null ? null : {
        command     = var.container_health_check.command
        interval    = var.container_health_check.interval_seconds
        timeout     = var.container_health_check.timeout_seconds
        retries     = var.container_health_check.retries
        startPeriod = var.container_health_check.start_period_seconds
      }
      readonlyRootFilesystem = var.readonly_root_filesystem
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = var.region
          awslogs-stream-prefix = var.container_name
        }
      }
    } : key => value if value != null
  }

  ssm_parameter_arns = sort([for arn in values(var.secrets) : arn if split(":", arn)[2] == "ssm"])
  secret_arns        = sort([for arn in values(var.secrets) : arn if split(":", arn)[2] == "secretsmanager"])

  on_demand = [{ capacity_provider = "FARGATE", base = 0, weight = 1 }]
  # One task always runs on regular Fargate, so a Spot interruption never takes the service down.
  mostly_spot = [
    { capacity_provider = "FARGATE", base = 1, weight = 0 },
    { capacity_provider = "FARGATE_SPOT", base = 0, weight = 1 },
  ]
  capacity_provider_strategy = var.spot ? local.mostly_spot : local.on_demand
}

################################################################################
# Cluster and logs
################################################################################

resource "aws_ecs_cluster" "this" {
  name = var.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

################################################################################
# IAM: the execution role (ECS pulls the image, writes logs, reads secrets)
# and the task role (what the application itself may do)
################################################################################

data "aws_iam_policy_document" "execution_assume" {
  statement {
    sid     = "EcsAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = var.execution_role_name
  description          = "ECS pulls the image of ${var.service_name}, writes its logs and reads its secrets"
  assume_role_policy   = data.aws_iam_policy_document.execution_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid = "LogInToEcr"
    # GetAuthorizationToken is not tied to a repository: IAM accepts only "*" for it.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = length(local.ssm_parameter_arns) == 0 ? [] : [local.ssm_parameter_arns]

    content {
      sid       = "ReadParameters"
      actions   = ["ssm:GetParameters"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.secret_arns) == 0 ? [] : [local.secret_arns]

    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

data "aws_iam_policy_document" "task_assume" {
  statement {
    sid     = "EcsTasksAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only tasks of this account (confused deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# No permissions yet: attach what the application needs to the role
# (aws_iam_role_policy with role = module.fargate.task_role_name).
resource "aws_iam_role" "task" {
  name                 = var.task_role_name
  description          = "The ${var.service_name} application"
  assume_role_policy   = data.aws_iam_policy_document.task_assume.json
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

################################################################################
# Task definition
################################################################################

# Terraform owns the task definition, the pipeline the image: each deployment
# applies with the image it pushed, which registers a revision of exactly what
# service.yaml says, and CodeDeploy moves the service to that revision.
# skip_destroy keeps the revisions Terraform replaces ACTIVE (Terraform would
# otherwise deregister them): a rollback redeploys one as it was, and ECS can
# start a task set only from an ACTIVE revision.
resource "aws_ecs_task_definition" "this" {
  family                   = var.task_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  skip_destroy = true

  tags = var.tags
}

################################################################################
# Service
################################################################################

resource "aws_security_group" "service" {
  name        = var.security_group_name
  description = "Service ${var.service_name}: traffic from its load balancer only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = var.security_group_name })
}

resource "aws_vpc_security_group_ingress_rule" "from_load_balancer" {
  security_group_id            = aws_security_group.service.id
  description                  = "Requests and health checks from the load balancer"
  referenced_security_group_id = var.load_balancer_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.service.id
  description       = "ECR, CloudWatch Logs, SSM, Secrets Manager and whatever the application calls"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_ecs_service" "this" {
  name                              = var.service_name
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.this.arn
  desired_count                     = var.desired_count
  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  platform_version                  = var.platform_version
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"

  deployment_controller {
    type = "CODE_DEPLOY"
  }

  dynamic "capacity_provider_strategy" {
    for_each = local.capacity_provider_strategy

    content {
      capacity_provider = capacity_provider_strategy.value.capacity_provider
      base              = capacity_provider_strategy.value.base
      weight            = capacity_provider_strategy.value.weight
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = var.container_name
    container_port   = var.container_port
  }

  tags = var.tags

  # ECS accepts a target group only once a listener forwards to it; the
  # execution role must be able to pull before the first tasks start.
  depends_on = [
    var.listener_arns,
    aws_ecs_cluster_capacity_providers.this,
    aws_iam_role_policy.execution,
  ]

  lifecycle {
    # Each deployment gives the service a new task definition and the other
    # target group (CodeDeploy), and autoscaling sets the task count.
    #
    # With the CODE_DEPLOY controller only a CodeDeploy deployment may change the
    # network configuration, capacity provider strategy and platform version (see
    # "UpdateService" in the Amazon ECS API Reference: for a service using the
    # blue/green deployment type only desired count, deployment configuration,
    # health check grace period, task placement and propagated tags can be
    # updated). A change of them would make provider 5.x replace the production
    # service (capacity_provider_strategy forces a new resource) or fail the
    # apply: deploy/execute.sh carries them in the AppSpec of every deployment
    # instead (output deployment_properties), so Terraform leaves them alone
    # after the service is created.
    ignore_changes = [
      task_definition,
      load_balancer,
      desired_count,
      network_configuration,
      capacity_provider_strategy,
      platform_version,
    ]
  }
}
