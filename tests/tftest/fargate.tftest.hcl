# The service's safe defaults, planned against a mock AWS provider.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  permissions_boundary_arn        = "arn:aws:iam::123456789012:policy/svc-production-boundary"
  region                          = "us-east-1"
  cluster_name                    = "svc-production"
  service_name                    = "svc-production"
  task_family                     = "svc-production"
  container_name                  = "svc"
  image                           = "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-production:1"
  container_port                  = 8080
  cpu                             = 256
  memory                          = 512
  log_group_name                  = "/ecs/svc-production"
  execution_role_name             = "svc-production-execution"
  task_role_name                  = "svc-production-task"
  ecr_repository_arn              = "arn:aws:ecr:us-east-1:123456789012:repository/svc-production"
  vpc_id                          = "vpc-0123456789abcdef0"
  subnet_ids                      = ["subnet-0123456789abcdef0"]
  security_group_name             = "svc-production-service"
  load_balancer_security_group_id = "sg-0123456789abcdef0"
  target_group_arn                = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-production-blue/0123456789abcdef"
  desired_count                   = 2
}

run "logs_are_kept_for_a_while_only" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "Container logs expire after 30 days unless told otherwise."
  }
}

run "log_retention_and_key_as_given" {
  command = plan

  variables {
    log_retention_days = 365
    log_kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef"
  }

  assert {
    condition = (
      aws_cloudwatch_log_group.this.retention_in_days == 365 &&
      aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/01234567-89ab-cdef-0123-456789abcdef"
    )
    error_message = "The log group keeps the given retention and key."
  }
}

run "tasks_are_private" {
  command = plan

  assert {
    condition     = !aws_ecs_service.this.network_configuration[0].assign_public_ip
    error_message = "Tasks get no public IP."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.from_load_balancer.referenced_security_group_id == "sg-0123456789abcdef0" &&
      aws_vpc_security_group_ingress_rule.from_load_balancer.from_port == 8080 &&
      aws_vpc_security_group_ingress_rule.from_load_balancer.to_port == 8080
    )
    error_message = "Tasks accept the container port from the load balancer only."
  }
}
