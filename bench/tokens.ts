/**
 * The `bench-<run>-<seq>` tokens the benchmark puts in every event (Herald: in the message;
 * Alertmanager: in a label). A Herald delivery carries one; an Alertmanager webhook
 * notification carries one per alert and repeats a lone alert's labels in its group and common
 * labels, so a body counts each distinct seq once.
 */
const TOKEN = /bench-[0-9a-z]+-(\d+)/g;

export function seqsInBody(body: string): Set<number> {
  const seqs = new Set<number>();
  for (const match of body.matchAll(TOKEN)) seqs.add(Number(match[1]));
  return seqs;
}
