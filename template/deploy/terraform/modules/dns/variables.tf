variable "zone_name" {
  description = "Public Route53 hosted zone the name lives in, e.g. example.com."
  type        = string
}

variable "fqdn" {
  description = "Fully qualified name of the service: the zone itself (apex) or a name under it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9-]{2,63}$", var.fqdn))
    error_message = "The name must be a fully qualified lowercase DNS name without a trailing dot."
  }
}

variable "create_certificate" {
  description = "Request a DNS-validated ACM certificate for the name and wait until it is issued."
  type        = bool
  default     = true
}

variable "alias_target" {
  description = "Load balancer the name points to: its DNS name and Route53 zone ID."
  type = object({
    dns_name = string
    zone_id  = string
  })
}

variable "tags" {
  description = "Tags of the certificate, added to the provider's default tags."
  type        = map(string)
  default     = {}
}
