output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer, the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route53 zone of the load balancer's DNS name, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "ID of the load balancer's security group."
  value       = aws_security_group.this.id
}

output "prod_listener_arn" {
  description = "ARN of the production listener (HTTPS on 443, or HTTP on 80)."
  value       = aws_lb_listener.prod.arn
}

output "test_listener_arn" {
  description = "ARN of the test listener."
  value       = aws_lb_listener.test.arn
}

output "listener_arns" {
  description = "ARNs of every listener that forwards to the target groups."
  value       = [aws_lb_listener.prod.arn, aws_lb_listener.test.arn]
}
