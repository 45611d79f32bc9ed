# handocr-secrets in Kubernetes mirrors these two (External Secrets / Secrets Store CSI, or the deploy
# workflow). Values of api_keys are set out of band: `aws secretsmanager put-secret-value` (docs/deploy.md).
resource "aws_secretsmanager_secret" "api_keys" {
  #checkov:skip=CKV2_AWS_57:API keys are rotated by the documented two-step procedure (add new, then remove old), not by a Lambda.
  name        = "${local.name}/api-keys-sha256"
  description = "hex sha256 digests of the accepted API keys, one per line (HANDOCR_API_KEYS_FILE)"
  kms_key_id  = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret" "redis" {
  #checkov:skip=CKV2_AWS_57:Rotating the ElastiCache AUTH token needs a coordinated restart; done by re-applying with a new random_password.
  name        = "${local.name}/redis-auth-token"
  description = "ElastiCache AUTH token (handocr-secrets redis-password)"
  kms_key_id  = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id     = aws_secretsmanager_secret.redis.id
  secret_string = random_password.redis.result
}
