/**
 * Maps a Provider's `spec.type` to its adapter. Adding a provider is adding its module and
 * one line here.
 */
import { azureDevOps } from './commit-status/azuredevops.js';
import { azureeventhub } from './azureeventhub.js';
import { bitbucket } from './commit-status/bitbucket.js';
import { bitbucketServer } from './commit-status/bitbucketserver.js';
import { generic, genericHmac } from './generic.js';
import { gitea } from './commit-status/gitea.js';
import { github } from './commit-status/github.js';
import { gitlab } from './commit-status/gitlab.js';
import { msteams } from './msteams.js';
import { pagerduty } from './pagerduty.js';
import { slack } from './slack.js';
import { alertmanager } from './alertmanager.js';
import { datadog } from './datadog.js';
import { discord } from './discord.js';
import { githubdispatch } from './githubdispatch.js';
import { googlepubsub } from './googlepubsub.js';
import { giteaPullRequestComment } from './giteapullrequestcomment.js';
import { githubPullRequestComment } from './githubpullrequestcomment.js';
import { gitlabMergeRequestComment } from './gitlabmergerequestcomment.js';
import { googlechat } from './googlechat.js';
import { grafana } from './grafana.js';
import { incidentio } from './incidentio.js';
import { lark } from './lark.js';
import { matrix } from './matrix.js';
import { nats } from './nats.js';
import { opsgenie } from './opsgenie.js';
import { otel } from './otel.js';
import { rocket } from './rocket.js';
import { sentry } from './sentry.js';
import { telegram } from './telegram.js';
import { webex } from './webex.js';
import { zulip } from './zulip.js';
import type { ProviderAdapter } from './types.js';

const adapters: readonly ProviderAdapter[] = [
  generic,
  genericHmac,
  slack,
  msteams,
  pagerduty,
  github,
  gitlab,
  gitea,
  bitbucket,
  bitbucketServer,
  azureDevOps,
  discord,
  rocket,
  googlechat,
  webex,
  telegram,
  lark,
  matrix,
  opsgenie,
  alertmanager,
  grafana,
  datadog,
  zulip,
  incidentio,
  githubdispatch,
  sentry,
  githubPullRequestComment,
  gitlabMergeRequestComment,
  giteaPullRequestComment,
  nats,
  otel,
  azureeventhub,
  googlepubsub,
];

const byType = new Map<string, ProviderAdapter>(adapters.map((a) => [a.type, a]));
// Flux's main branch spells the type `incident.io`; Herald's adapter came first as `incidentio`.
// Both names serve it, so a manifest written for either works.
byType.set('incident.io', { ...incidentio, type: 'incident.io' } as ProviderAdapter);

export function adapterFor(type: string): ProviderAdapter | undefined {
  return byType.get(type);
}

export function supportedTypes(): string[] {
  return [...byType.keys()].sort();
}
