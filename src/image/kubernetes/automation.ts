/**
 * Image automation in `--kubernetes` mode. Every replica watches the image objects
 * (source.ts); once one exists, each campaigns for the `herald-image-automation` Lease
 * (src/resources/kubernetes/leader.ts; a Lease of its own, as each Flux controller has, so
 * that it does not tie image work to whichever replica writes Provider statuses). Only the
 * holder runs the controller — scans, selects, commits, pushes — writes the statuses back
 * (status.ts) and records the Kubernetes Events; the others stand by with their informers
 * warm and take over from the status the API holds.
 *
 * Losing the Lease stops the controller (reconciles under way finish: the leader stops at its
 * renew deadline, before the Lease can expire for anyone else).
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../api/types.js';
import type { FluxEvent } from '../../events/event.js';
import { KubeEventRecorder } from '../../resources/kubernetes/event-recorder.js';
import { LeaderElector, type LeaderElectorOptions } from '../../resources/kubernetes/leader.js';
import { ImageController, type ImageObjectSource, type ImageResourceStatus } from '../controller.js';
import { IMAGE_API_VERSION, ImageReasons, REFLECTOR_CONTROLLER } from '../types.js';
import { startImageKubeSource, type ImageKubeSource } from './source.js';
import { ImageStatusWriter } from './status.js';

export const IMAGE_LEADER_LEASE_NAME = 'herald-image-automation';

export interface ControllerHooks {
  /** Statuses changed: the leader writes them back. */
  onStatusChange(): void;
  /** A reconcile's event (after Herald's dispatcher has it): recorded as a Kubernetes Event too. */
  onEvent(event: FluxEvent): void;
  /** A trace (never dispatched): recorded as a Normal Kubernetes Event. */
  onTrace(object: { kind: string; namespace: string; name: string; uid?: string }, message: string): void;
}

export interface KubernetesImageAutomationOptions {
  kubeConfig: KubeConfig;
  /** Watch only this namespace; every namespace when unset. */
  namespace?: string;
  /** Where the Lease lives (Herald's own namespace, or the watched one). */
  leaseNamespace: string;
  identity: string;
  logger: Logger;
  /** Builds the controller over the Kubernetes source, once this replica leads. */
  createController(source: ImageObjectSource, hooks: ControllerHooks): ImageController;
  /** Lease timings (tests). */
  lease?: Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewIntervalMs' | 'retryIntervalMs' | 'renewDeadlineMs'>;
}

export interface KubernetesImageAutomation {
  readonly source: ImageKubeSource;
  readonly leading: boolean;
  statuses(): ImageResourceStatus[];
  close(): Promise<void>;
}

export function startKubernetesImageAutomation(opts: KubernetesImageAutomationOptions): KubernetesImageAutomation {
  const { kubeConfig, namespace, logger } = opts;
  const source = startImageKubeSource({ kubeConfig, namespace, logger });
  const recorder = new KubeEventRecorder({ api: kubeConfig.makeApiClient(CoreV1Api), logger });
  let controller: ImageController | undefined;
  let stopping: Promise<void> | undefined;
  let campaigning = false;
  let leading = false;
  let closed = false;
  const writer = new ImageStatusWriter({ source, statuses: () => controller?.statuses() ?? [], api: kubeConfig.makeApiClient(CustomObjectsApi), logger });
  const elector = new LeaderElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: opts.leaseNamespace,
    name: IMAGE_LEADER_LEASE_NAME,
    identity: opts.identity,
    logger,
    ...opts.lease,
  });

  const hooks: ControllerHooks = {
    onStatusChange: () => writer.mark(),
    onEvent: (event) => {
      const { involvedObject: object } = event;
      recorder.event(
        { apiVersion: object.apiVersion ?? '', kind: object.kind, namespace: object.namespace ?? 'default', name: object.name, uid: object.uid },
        event.severity === 'error' ? 'Warning' : 'Normal',
        event.reason ?? '',
        event.message,
        event.reportingController,
      );
    },
    onTrace: (object, message) => recorder.event({ apiVersion: IMAGE_API_VERSION, ...object }, 'Normal', ImageReasons.Succeeded, message, REFLECTOR_CONTROLLER),
  };

  const sync = () => {
    if (closed) return;
    const wanted = ImageController.wanted(source);
    if (wanted && !campaigning) {
      campaigning = true;
      elector.start();
    }
    if (leading && wanted && !controller && !stopping) {
      controller = opts.createController(source, hooks);
      logger.info({ lease: `${opts.leaseNamespace}/${IMAGE_LEADER_LEASE_NAME}` }, 'image automation started: this replica holds the Lease');
    }
    controller?.sync();
    writer.mark();
  };

  const standDown = () => {
    const running = controller;
    controller = undefined;
    if (!running) return;
    logger.info({}, 'image automation stopped: this replica no longer holds the Lease');
    stopping = running.close().finally(() => {
      stopping = undefined;
      sync();
    });
  };

  source.onChange(sync);
  elector.on('started', () => {
    leading = true;
    writer.setActive(true);
    sync();
  });
  elector.on('stopped', () => {
    leading = false;
    writer.setActive(false);
    standDown();
  });

  return {
    source,
    get leading() {
      return leading;
    },
    statuses: () => controller?.statuses() ?? [],
    async close() {
      closed = true;
      // Stop working and writing before the Lease goes, so two replicas never work at once;
      // the last reconciles' statuses are written first.
      await controller?.close();
      await stopping;
      await writer.flush();
      controller = undefined;
      writer.setActive(false);
      await writer.close();
      await elector.stop();
      await source.close();
      await recorder.flush();
    },
  };
}
