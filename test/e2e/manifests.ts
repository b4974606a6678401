/** Manifests for end-to-end tests: a webhook Provider at a sink and an Alert for Kustomizations. */

export function webhookProvider(opts: { name?: string; address: string; type?: string; secretName?: string; extra?: string }): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: ${opts.name ?? 'sink'}
  namespace: flux-system
spec:
  type: ${opts.type ?? 'generic'}
  address: ${opts.address}
${opts.secretName ? `  secretRef:\n    name: ${opts.secretName}\n` : ''}${opts.extra ?? ''}`;
}

export function kustomizationAlert(opts: { name?: string; provider?: string; extra?: string } = {}): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: ${opts.name ?? 'all-kustomizations'}
  namespace: flux-system
spec:
  providerRef:
    name: ${opts.provider ?? 'sink'}
  eventSources:
    - kind: Kustomization
      name: '*'
${opts.extra ?? ''}`;
}

export function secret(name: string, stringData: Record<string, string>): string {
  const lines = Object.entries(stringData).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: flux-system
stringData:
${lines.join('\n')}
`;
}

/** A Provider of any type, with the optional spec fields the adapters read and a fixed uid. */
export function provider(opts: {
  name: string;
  type: string;
  address?: string;
  channel?: string;
  username?: string;
  secretName?: string;
  uid?: string;
}): string {
  const spec = [
    `  type: ${opts.type}`,
    opts.address !== undefined ? `  address: ${JSON.stringify(opts.address)}` : '',
    opts.channel !== undefined ? `  channel: ${JSON.stringify(opts.channel)}` : '',
    opts.username !== undefined ? `  username: ${JSON.stringify(opts.username)}` : '',
    opts.secretName ? `  secretRef:\n    name: ${opts.secretName}` : '',
  ].filter(Boolean);
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: ${opts.name}
  namespace: flux-system
${opts.uid ? `  uid: ${opts.uid}\n` : ''}spec:
${spec.join('\n')}
`;
}

/** An Alert sending the events of objects of one kind, selected by name (a YAML scalar: quote `'*'`), to one Provider. */
export function alertFor(opts: { name: string; provider: string; kind: string; source: string }): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: ${opts.name}
  namespace: flux-system
spec:
  providerRef:
    name: ${opts.provider}
  eventSources:
    - kind: ${opts.kind}
      name: ${opts.source}
`;
}

/** An Alert sending the events of one Kustomization, selected by name, to one Provider. */
export function alertForKustomization(opts: { name: string; provider: string; kustomization: string }): string {
  return alertFor({ name: opts.name, provider: opts.provider, kind: 'Kustomization', source: opts.kustomization });
}
