output "fqdn" {
  description = "Fully qualified name of the service."
  value       = aws_route53_record.alias.fqdn
}

output "zone_id" {
  description = "ID of the hosted zone."
  value       = data.aws_route53_zone.this.zone_id
}

output "certificate_arn" {
  description = "ARN of the issued (validated) certificate; null without one."
  value       = one(aws_acm_certificate_validation.this[*].certificate_arn)
}
