output "app_name" {
  description = "Name of the CodeDeploy application."
  value       = aws_codedeploy_app.this.name
}

output "deployment_group_name" {
  description = "Name of the deployment group."
  value       = aws_codedeploy_deployment_group.this.deployment_group_name
}

output "deployment_config_name" {
  description = "Deployment config of the deployment group."
  value       = aws_codedeploy_deployment_group.this.deployment_config_name
}

output "role_arn" {
  description = "ARN of CodeDeploy's service role."
  value       = aws_iam_role.this.arn
}

output "alarm_names" {
  description = "Alarms that stop a deployment."
  value       = local.alarm_names
}
