output "blue_arn" {
  description = "ARN of the blue target group."
  value       = aws_lb_target_group.this["blue"].arn
}

output "green_arn" {
  description = "ARN of the green target group."
  value       = aws_lb_target_group.this["green"].arn
}

output "blue_name" {
  description = "Name of the blue target group."
  value       = aws_lb_target_group.this["blue"].name
}

output "green_name" {
  description = "Name of the green target group."
  value       = aws_lb_target_group.this["green"].name
}

output "blue_arn_suffix" {
  description = "ARN suffix of the blue target group, the TargetGroup dimension of its CloudWatch metrics."
  value       = aws_lb_target_group.this["blue"].arn_suffix
}

output "green_arn_suffix" {
  description = "ARN suffix of the green target group, the TargetGroup dimension of its CloudWatch metrics."
  value       = aws_lb_target_group.this["green"].arn_suffix
}
