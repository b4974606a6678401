/** The Ready condition of a resource, built from its findings the way Kubernetes conditions behave. */
import { Reasons, type Finding, type ReadyCondition } from './types.js';

/**
 * Ready True with `Succeeded` and `readyMessage` when there are no findings; otherwise Ready
 * False with the first finding's reason and every message. `lastTransitionTime` only moves
 * when the status changes, so it says since when the resource has been in its state.
 */
export function readyCondition(
  findings: readonly Finding[],
  readyMessage: string,
  previous: ReadyCondition | undefined,
  generation: number | undefined,
  now: Date = new Date(),
): ReadyCondition {
  const [first] = findings;
  const status = first ? 'False' : 'True';
  const condition: ReadyCondition = {
    type: 'Ready',
    status,
    reason: first ? first.reason : Reasons.Succeeded,
    message: first ? findings.map((f) => f.message).join('; ') : readyMessage,
    lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now.toISOString(),
  };
  if (generation !== undefined) condition.observedGeneration = generation;
  return condition;
}
