output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_family" {
  description = "Family of the task definition."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_arn" {
  description = "ARN of the task definition revision of service.yaml with var.image: the one a deployment deploys."
  value       = aws_ecs_task_definition.this.arn
}

# The AppSpec of an ECS deployment carries what only a deployment may change on
# a CODE_DEPLOY service ("AppSpec 'resources' section for Amazon ECS
# deployments", AWS CodeDeploy User Guide): without them the new task set would
# keep the original's network configuration, capacity providers and platform.
output "deployment_properties" {
  description = "Properties of the AppSpec's TargetService, all but TaskDefinition."
  value = {
    LoadBalancerInfo = {
      ContainerName = var.container_name
      ContainerPort = var.container_port
    }
    PlatformVersion = var.platform_version
    NetworkConfiguration = {
      AwsvpcConfiguration = {
        Subnets        = sort(var.subnet_ids)
        SecurityGroups = [aws_security_group.service.id]
        AssignPublicIp = "DISABLED"
      }
    }
    CapacityProviderStrategy = [
      for strategy in local.capacity_provider_strategy : {
        CapacityProvider = strategy.capacity_provider
        Base             = strategy.base
        Weight           = strategy.weight
      }
    ]
  }
}

output "container_name" {
  description = "Name of the application container."
  value       = var.container_name
}

output "container_port" {
  description = "Port of the application container."
  value       = var.container_port
}

output "log_group_name" {
  description = "CloudWatch log group of the container's output."
  value       = aws_cloudwatch_log_group.this.name
}

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the task role."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the task role, to attach the application's permissions to."
  value       = aws_iam_role.task.name
}

output "security_group_id" {
  description = "ID of the tasks' security group."
  value       = aws_security_group.service.id
}
