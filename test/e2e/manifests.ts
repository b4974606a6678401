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
