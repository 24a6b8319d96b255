/** A typical SageMaker backend for the runner's unit tests (placeholder account, role and images). */
export const SAGEMAKER_BACKEND_INPUT = {
  kind: 'sagemaker',
  region: 'us-east-1',
  roleArn: 'arn:aws:iam::123456789012:role/JudgeloopSageMakerExecution',
  images: {
    generation: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judgeloop-jobs:generate-gpu',
    training: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judgeloop-jobs:train-gpu',
  },
  instanceTypes: { generation: 'ml.g5.2xlarge', training: 'ml.g5.12xlarge' },
} as const;
