# The load balancer's safe defaults, planned against a mock AWS provider.

mock_provider "aws" {}

variables {
  name                     = "svc-production"
  security_group_name      = "svc-production-alb"
  vpc_id                   = "vpc-0123456789abcdef0"
  subnet_ids               = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  test_listener_port       = 8443
  test_listener_cidrs      = ["10.0.0.0/16"]
  target_group_arn         = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-production-blue/0123456789abcdef"
  target_port              = 8080
  target_security_group_id = "sg-0123456789abcdef0"
}

run "with_https_port_80_only_redirects" {
  command = plan

  variables {
    https           = true
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/01234567-89ab-cdef-0123-456789abcdef"
  }

  assert {
    condition     = aws_lb_listener.prod.port == 443 && aws_lb_listener.prod.protocol == "HTTPS"
    error_message = "Production traffic is HTTPS on 443."
  }

  assert {
    condition     = aws_lb_listener.test.protocol == "HTTPS"
    error_message = "The test listener speaks HTTPS too."
  }

  assert {
    condition     = alltrue([for listener in [aws_lb_listener.prod, aws_lb_listener.test] : listener.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"])
    error_message = "HTTPS listeners accept TLS 1.2 and 1.3 only."
  }

  assert {
    condition = (
      length(aws_lb_listener.http_redirect) == 1 &&
      aws_lb_listener.http_redirect[0].port == 80 &&
      aws_lb_listener.http_redirect[0].default_action[0].type == "redirect" &&
      aws_lb_listener.http_redirect[0].default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http_redirect[0].default_action[0].redirect[0].port == "443"
    )
    error_message = "Port 80 answers with a redirect to HTTPS and nothing else."
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.https) == 1 && aws_vpc_security_group_ingress_rule.https[0].from_port == 443
    error_message = "HTTPS is open to the internet."
  }
}

run "without_https_production_traffic_is_http_on_80" {
  command = plan

  assert {
    condition     = aws_lb_listener.prod.port == 80 && aws_lb_listener.prod.protocol == "HTTP"
    error_message = "Without a certificate, production traffic is HTTP on 80."
  }

  assert {
    condition     = length(aws_lb_listener.http_redirect) == 0 && length(aws_vpc_security_group_ingress_rule.https) == 0
    error_message = "No redirect and no 443 without HTTPS."
  }
}

run "load_balancer_defaults" {
  command = plan

  assert {
    condition     = aws_lb.this.enable_deletion_protection
    error_message = "Deletion protection is on unless turned off."
  }

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields
    error_message = "Invalid headers are dropped."
  }

  assert {
    condition     = length(aws_lb.this.access_logs) == 0
    error_message = "Access logs need a bucket: off without one."
  }
}

run "test_listener_is_closed_to_the_internet" {
  command = plan

  assert {
    condition     = [for rule in aws_vpc_security_group_ingress_rule.test : rule.cidr_ipv4] == ["10.0.0.0/16"]
    error_message = "Only the given CIDR blocks reach the test listener."
  }

  assert {
    condition     = alltrue([for rule in aws_vpc_security_group_ingress_rule.test : rule.from_port == 8443 && rule.to_port == 8443])
    error_message = "The test rules open the test port only."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.targets.referenced_security_group_id == "sg-0123456789abcdef0" &&
      aws_vpc_security_group_egress_rule.targets.from_port == 8080 &&
      aws_vpc_security_group_egress_rule.targets.to_port == 8080
    )
    error_message = "The load balancer sends to the targets' port of their security group only."
  }
}

run "access_logs_when_a_bucket_is_given" {
  command = plan

  variables {
    access_logs_bucket = "my-alb-logs"
    access_logs_prefix = "svc-production"
  }

  assert {
    condition = (
      aws_lb.this.access_logs[0].enabled &&
      aws_lb.this.access_logs[0].bucket == "my-alb-logs" &&
      aws_lb.this.access_logs[0].prefix == "svc-production"
    )
    error_message = "Access logs go to the given bucket, under the given prefix."
  }
}
