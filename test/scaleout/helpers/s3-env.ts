/**
 * Environment for `lfsd serve` child processes against s3rver: S3 credentials reach lfsd through
 * the AWS SDK's default chain (environment variables), as they would in production (there through
 * a web identity or instance role instead).
 */
export const S3RVER_ENV: NodeJS.ProcessEnv = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_EC2_METADATA_DISABLED: 'true',
  // no developer profile may take part
  AWS_PROFILE: undefined,
};
