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
 * - `requestHandler`: requests go out through undici (s3-http-handler.ts says why).
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { S3HttpHandler } from './s3-http-handler.js';

export interface S3ClientOptions {
  /** for S3-compatible servers, e.g. `http://127.0.0.1:9000`; default: AWS for `region` */
  endpoint?: string;
  /** default `us-east-1` */
  region?: string;
  /** `bucket` in the path instead of the host name (MinIO and most S3-compatible servers) */
  forcePathStyle?: boolean;
  /** static credentials; leave out to use the SDK's default chain (the production setting) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** told the size of every chunk of every response body (s3-http-handler.ts) */
  onBodyBytes?: (bytes: number) => void;
}

export const DEFAULT_S3_REGION = 'us-east-1';

/** The client configuration for `options` (tests build their own clients against s3rver from it). */
export function s3ClientConfig(options: S3ClientOptions): S3ClientConfig {
  const config: S3ClientConfig = {
    region: options.region || DEFAULT_S3_REGION,
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new S3HttpHandler({ onBodyBytes: options.onBodyBytes }),
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  // only when configured: an explicit key, even undefined, is better not risked against the chain
  if (options.credentials) config.credentials = options.credentials;
  return config;
}

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client(s3ClientConfig(options));
}
