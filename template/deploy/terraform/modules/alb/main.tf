locals {
  listener_protocol = var.https ? "HTTPS" : "HTTP"
}

resource "aws_security_group" "this" {
  name        = var.security_group_name
  description = "Load balancer ${var.name}: web traffic from the internet, test traffic from inside"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = var.security_group_name })
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  #checkov:skip=CKV_AWS_260:A public web service answers on port 80: it only redirects to HTTPS when the service has a certificate, and serves plain HTTP without one (no dns, or dns.https false)
  security_group_id = aws_security_group.this.id
  description       = var.https ? "HTTP from the internet (redirected to HTTPS)" : "HTTP from the internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  count = var.https ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "HTTPS from the internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "test" {
  count = length(var.test_listener_cidrs)

  security_group_id = aws_security_group.this.id
  description       = "Test listener: the new version before it takes production traffic"
  cidr_ipv4         = var.test_listener_cidrs[count.index]
  ip_protocol       = "tcp"
  from_port         = var.test_listener_port
  to_port           = var.test_listener_port
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id            = aws_security_group.this.id
  description                  = "Requests and health checks to the service's tasks"
  referenced_security_group_id = var.target_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.target_port
  to_port                      = var.target_port
}

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:A WAF web ACL is billed per ACL, rule and request, so it is not a default; associate one where the service needs it
  name                       = var.name
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.this.id]
  subnets                    = var.subnet_ids
  idle_timeout               = var.idle_timeout_seconds
  enable_deletion_protection = var.deletion_protection
  drop_invalid_header_fields = true

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]

    content {
      bucket  = access_logs.value
      prefix  = var.access_logs_prefix
      enabled = true
    }
  }

  tags = var.tags
}

# Production traffic. CodeDeploy owns the forward action from the first
# deployment on (it points it at blue or green, or splits it while shifting),
# so Terraform sets it once and then leaves it alone.
resource "aws_lb_listener" "prod" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.https ? 443 : 80
  protocol          = local.listener_protocol
  ssl_policy        = var.https ? var.ssl_policy : null
  certificate_arn   = var.https ? var.certificate_arn : null

  default_action {
    type             = "forward"
    target_group_arn = var.target_group_arn
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [default_action]

    precondition {
      condition     = !var.https || var.certificate_arn != null
      error_message = "An HTTPS listener needs certificate_arn."
    }
  }
}

resource "aws_lb_listener" "http_redirect" {
  count = var.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

# Test traffic: during a deployment CodeDeploy points this listener at the new
# version, so it can be tried before production traffic moves.
resource "aws_lb_listener" "test" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.test_listener_port
  protocol          = local.listener_protocol
  ssl_policy        = var.https ? var.ssl_policy : null
  certificate_arn   = var.https ? var.certificate_arn : null

  default_action {
    type             = "forward"
    target_group_arn = var.target_group_arn
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [default_action]
  }
}
