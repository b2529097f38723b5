// The public names of `registry/`: pull (a source), push (a sink), login, and the pieces they are made of.

export { Authenticator, withAuth } from './auth/authenticator.js';
export type { Challenge } from './auth/challenge.js';
export { mergeScopes, parseChallenges, pickChallenge, repositoryScope } from './auth/challenge.js';
export type {
  CredentialOptions,
  CredentialSource,
  Credentials,
  DockerAuthEntry,
  DockerConfigFile,
  DockerConfigOptions,
} from './auth/credentials.js';
export {
  credentialServerKey,
  credentialSource,
  dockerConfigDir,
  dockerCredentials,
  helperCredentials,
  normaliseRegistryKey,
  readDockerConfig,
  storeCredentials,
} from './auth/credentials.js';
export { redact, redactUrl, rememberSecret } from './auth/redact.js';
export type { Token, TokenRequest } from './auth/token.js';
export { fetchToken, TokenCache, tokenExpiry } from './auth/token.js';
export type { FetchedManifest, RegistryOptions } from './client.js';
export { MANIFEST_ACCEPT, parseUploadRange, RegistryClient, RemoteRepository } from './client.js';
export type { RegistryErrorCode, RegistryErrorContext, SpecError } from './errors.js';
export { errorFromResponse, isRetryable, parseSpecErrors, RegistryError } from './errors.js';
export type { RegistryEvent, RegistryEventSink } from './events.js';
export { discardRegistryEvents } from './events.js';
export type { LoginOptions, LoginResult } from './login.js';
export { login } from './login.js';
export type { BlobOrigin, PullAllResult, PullOptions, PullResult, PullStore } from './pull.js';
export {
  fetchRootManifest,
  originOf,
  pullAll,
  pullImage,
  remoteImage,
  remoteIndex,
  type StartedPull,
  startPull,
} from './pull.js';
export type { PushOptions, PushResult, PushStats } from './push.js';
export { BlobLocations, pushImage, pushIndex, sumPushStats } from './push.js';
export type { UploadSession, UploadSessions } from './sessions.js';
export { fileUploadSessions, memoryUploadSessions, sessionFileName } from './sessions.js';
export type { RegistrySettings, RegistrySettingsOptions } from './settings.js';
export { allowsPlainHttp, apiHost, isLoopback, registrySettings, wharfConfigPath } from './settings.js';
export type { ClosableTransport, HttpTransportOptions } from './transport/http.js';
export { httpTransport } from './transport/http.js';
export { withRedirects } from './transport/redirect.js';
export type { RetryInfo, RetryPolicy } from './transport/retry.js';
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  retrying,
  withRetry,
} from './transport/retry.js';
export type {
  HttpMethod,
  HttpRequest,
  HttpResponse,
  RequestBody,
  ResponseBody,
  Transport,
} from './transport/types.js';
export { memoryResponse } from './transport/types.js';
