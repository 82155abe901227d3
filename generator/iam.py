"""The IAM policy the pipeline's deploy role needs, scoped to one environment's resources.

Written into the generated README so that a platform team can create the role
with exactly this document. Statements whose Sid ends in `AnyResource` cover
calls for which AWS offers no resource-level permission (Describe/List calls,
creating a resource whose ARN does not exist yet): the Sid says so, since JSON
has no comments.
"""

from __future__ import annotations

from typing import Any

from .model import Environment

ACCOUNT = "ACCOUNT_ID"  # placeholder where the spec pins no account: fill in before use


def deployer_policy(service: str, env: Environment) -> dict[str, Any]:
    """A policy document for `terraform apply` and deploy/execute.sh in one environment."""
    region, account = env.region, env.account_id or ACCOUNT
    names = env.names
    prefix = names["prefix"]
    tagged_for_this_service = {
        "StringEquals": {"aws:ResourceTag/Service": service, "aws:ResourceTag/Environment": env.name}
    }

    def arn(service_name: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:aws:{service_name}:{region if regional else ''}:{account}:{resource}"

    statements = [
        _statement(
            "ReadCallsWithoutResourceLevelPermissionsAnyResource",
            [
                "acm:ListCertificates",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
                "cloudwatch:DescribeAlarms",
                "codedeploy:GetDeploymentConfig",
                "codedeploy:ListDeploymentConfigs",
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeVpcs",
                "ecr:GetAuthorizationToken",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeTaskDefinition",
                "ecs:RegisterTaskDefinition",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "logs:DescribeLogGroups",
                "route53:GetChange",
                "route53:ListHostedZones",
                "route53:ListHostedZonesByName",
                "sts:GetCallerIdentity",
            ],
            ["*"],
        ),
        _statement(
            "CreateCallsWhoseArnIsNotKnownYetAnyResource",
            [
                "acm:RequestCertificate",
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:ListTagsForResource",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
                "ec2:CreateSecurityGroup",
            ],
            ["*"],
            {"StringEquals": {"aws:RequestedRegion": region}},
        ),
        _statement(
            "SecurityGroupsOfThisService",
            [
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:CreateTags",
                "ec2:DeleteSecurityGroup",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:ModifySecurityGroupRules",
            ],
            [arn("ec2", "security-group/*"), arn("ec2", "security-group-rule/*")],
            tagged_for_this_service,
        ),
        _statement(
            "LoadBalancerListenersAndTargetGroups",
            [
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
            ],
            [
                arn("elasticloadbalancing", f"loadbalancer/app/{names['alb']}/*"),
                arn("elasticloadbalancing", f"listener/app/{names['alb']}/*"),
                arn("elasticloadbalancing", f"listener-rule/app/{names['alb']}/*"),
                arn("elasticloadbalancing", f"targetgroup/{names['target_group_blue']}/*"),
                arn("elasticloadbalancing", f"targetgroup/{names['target_group_green']}/*"),
            ],
        ),
        _statement(
            "EcsClusterAndService",
            [
                "ecs:CreateCluster",
                "ecs:CreateService",
                "ecs:DeleteCluster",
                "ecs:DeleteService",
                "ecs:DescribeClusters",
                "ecs:DescribeServices",
                "ecs:ListTagsForResource",
                "ecs:PutClusterCapacityProviders",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:UpdateCluster",
                "ecs:UpdateService",
            ],
            [
                arn("ecs", f"cluster/{names['cluster']}"),
                arn("ecs", f"service/{names['cluster']}/{names['service']}"),
                arn("ecs", f"task-definition/{names['task_family']}:*"),
            ],
        ),
        _statement(
            "RolesOfThisService",
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            [arn("iam", f"role/{prefix}-*", regional=False)],
        ),
        _statement(
            "PassRolesToEcsAndCodeDeployOnly",
            ["iam:PassRole"],
            [arn("iam", f"role/{prefix}-*", regional=False)],
            {
                "StringEquals": {
                    "iam:PassedToService": ["ecs-tasks.amazonaws.com", "codedeploy.amazonaws.com"]
                }
            },
        ),
        _statement(
            "AutoscalingServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [
                arn(
                    "iam",
                    "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_ECSService",
                    regional=False,
                )
            ],
            {"StringEquals": {"iam:AWSServiceName": "ecs.application-autoscaling.amazonaws.com"}},
        ),
        _statement(
            "ContainerLogs",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:ListTagsForResource",
                "logs:ListTagsLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            [
                arn("logs", f"log-group:{names['log_group']}"),
                arn("logs", f"log-group:{names['log_group']}:*"),
            ],
        ),
        _statement(
            "ImageRepository",
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchDeleteImage",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:CreateRepository",
                "ecr:DeleteLifecyclePolicy",
                "ecr:DeleteRepository",
                "ecr:DescribeImages",
                "ecr:DescribeRepositories",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetLifecyclePolicy",
                "ecr:InitiateLayerUpload",
                "ecr:ListImages",
                "ecr:ListTagsForResource",
                "ecr:PutImage",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
                "ecr:UploadLayerPart",
            ],
            [arn("ecr", f"repository/{names['ecr_repository']}")],
        ),
        _statement(
            "DeploymentAlarms",
            [
                "cloudwatch:DeleteAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
            ],
            [arn("cloudwatch", f"alarm:{prefix}-*")],
        ),
        _statement(
            "CodeDeployApplicationAndDeployments",
            [
                "codedeploy:CreateApplication",
                "codedeploy:CreateDeployment",
                "codedeploy:CreateDeploymentConfig",
                "codedeploy:CreateDeploymentGroup",
                "codedeploy:DeleteApplication",
                "codedeploy:DeleteDeploymentConfig",
                "codedeploy:DeleteDeploymentGroup",
                "codedeploy:GetApplication",
                "codedeploy:GetApplicationRevision",
                "codedeploy:GetDeployment",
                "codedeploy:GetDeploymentGroup",
                "codedeploy:ListDeployments",
                "codedeploy:ListTagsForResource",
                "codedeploy:RegisterApplicationRevision",
                "codedeploy:StopDeployment",
                "codedeploy:TagResource",
                "codedeploy:UntagResource",
                "codedeploy:UpdateApplication",
                "codedeploy:UpdateDeploymentGroup",
            ],
            [
                arn("codedeploy", f"application:{names['codedeploy_app']}"),
                arn("codedeploy", f"deploymentgroup:{names['codedeploy_app']}/{names['deployment_group']}"),
                arn("codedeploy", f"deploymentconfig:{env.deployment_config_name}"),
            ],
        ),
    ]
    if env.dns:
        statements += [
            _statement(
                "ServiceRecordsInTheZoneOnly",
                ["route53:ChangeResourceRecordSets"],
                ["arn:aws:route53:::hostedzone/*"],
                {
                    "ForAllValues:StringLike": {
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                            env.dns.fqdn,
                            f"_*.{env.dns.fqdn}",
                        ]
                    }
                },
            ),
            _statement(
                "ReadTheZone",
                ["route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource"],
                ["arn:aws:route53:::hostedzone/*"],
            ),
            _statement(
                "CertificateOfThisService",
                [
                    "acm:AddTagsToCertificate",
                    "acm:DeleteCertificate",
                    "acm:DescribeCertificate",
                    "acm:ListTagsForCertificate",
                ],
                [arn("acm", "certificate/*")],
                tagged_for_this_service,
            ),
        ]
    if env.state:
        statements += [
            _statement(
                "TerraformStateObject",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [f"arn:aws:s3:::{env.state.bucket}/{env.state.key}"],
            ),
            _statement("TerraformStateBucket", ["s3:ListBucket"], [f"arn:aws:s3:::{env.state.bucket}"]),
            _statement(
                "TerraformStateLock",
                ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
                [f"arn:aws:dynamodb:{env.state.region}:{account}:table/{env.state.lock_table}"],
            ),
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def deployer_trust_policy(env: Environment, deploy_branch: str) -> dict[str, Any]:
    """Who may assume the deploy role: GitLab's OIDC tokens of the deploy branch of one project."""
    account = env.account_id or ACCOUNT
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitLabPipelinesOfTheDeployBranch",
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/gitlab.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"gitlab.com:aud": "sts.amazonaws.com"},
                    "StringLike": {
                        "gitlab.com:sub": f"project_path:GROUP/PROJECT:ref_type:branch:ref:{deploy_branch}"
                    },
                },
            }
        ],
    }
