output "resource_id" {
  description = "Application Auto Scaling resource ID of the service."
  value       = aws_appautoscaling_target.this.resource_id
}

output "policy_arns" {
  description = "ARNs of the scaling policies, by name."
  value       = { for name, policy in aws_appautoscaling_policy.this : name => policy.arn }
}
