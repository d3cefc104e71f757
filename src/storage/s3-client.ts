/**
 * The one place lfsd builds an S3 client (S3Store uses it unless handed a ready client).
 *
 * - Credentials: none are passed unless configured, so the SDK's default chain applies: environment
 *   (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`), shared config and credentials
 *   files (`AWS_PROFILE`, SSO), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`: IAM roles
 *   for service accounts on EKS), container credentials (ECS, EKS Pod Identity), then EC2 instance
 *   metadata. Credentials are resolved and refreshed by the SDK, never stored by lfsd.
 * - `requestChecksumCalculation` / `responseChecksumValidation` are `WHEN_REQUIRED`: the SDK's newer
 *   default (a CRC32 on every request and response) is refused by several S3-compatible servers,
 *   and lfsd checks content with SHA-256 itself (VerifyingStore, and `x-amz-checksum-sha256` on
 *   single and presigned PutObject calls, which S3 checks).
 * - `forcePathStyle`: `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`, for MinIO
 *   and most S3-compatible servers.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3ClientOptions {
  /** for S3-compatible servers, e.g. `http://127.0.0.1:9000`; default: AWS for `region` */
  endpoint?: string;
  /** default `us-east-1` */
  region?: string;
  /** `bucket` in the path instead of the host name (MinIO and most S3-compatible servers) */
  forcePathStyle?: boolean;
  /** static credentials; leave out to use the SDK's default chain (the production setting) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export const DEFAULT_S3_REGION = 'us-east-1';

/** The client configuration for `options` (exported so that tests can check it without a network). */
export function s3ClientConfig(options: S3ClientOptions): S3ClientConfig {
  const config: S3ClientConfig = {
    region: options.region || DEFAULT_S3_REGION,
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  // only when configured: an explicit key, even undefined, is better not risked against the chain
  if (options.credentials) config.credentials = options.credentials;
  return config;
}

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client(s3ClientConfig(options));
}
