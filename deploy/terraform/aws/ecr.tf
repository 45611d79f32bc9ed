resource "aws_ecr_repository" "handocr" {
  name                 = var.project
  image_tag_mutability = "IMMUTABLE" # a tag is a release: roll back by deploying the previous tag
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.main.arn
  }
}

resource "aws_ecr_lifecycle_policy" "handocr" {
  repository = aws_ecr_repository.handocr.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 30 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}
