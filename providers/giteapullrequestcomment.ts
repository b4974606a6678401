/**
 * `giteapullrequestcomment`: one comment per object on the Gitea (or Forgejo) pull request
 * named by the event's `change_request` metadata, kept up to date, as Flux's
 * notification-controller writes it (shared rules in `./change-request.js`).
 *
 * - `spec.address` is the repository, as for `gitea` (API `<scheme>://<host>/api/v1`); the
 *   token (Secret `token`, `password` as a fallback) is sent as `Authorization: token …`.
 * - Requests: the account (`GET /user`), the comments
 *   (`GET /repos/<o>/<r>/issues/<n>/comments?limit=100&page=1`), then
 *   `PATCH /repos/<o>/<r>/issues/comments/<id>` or `POST /repos/<o>/<r>/issues/<n>/comments`
 *   with `{"body": …}`.
 */
import { accountName, changeRequestNumber, commentBody, commentMarker, field, findComment, getJson, putComment, PR_COMMENT_PREFIX } from './change-request.js';
import { repositoryProblem, seg, tokenOrPassword, type ApiRepository } from './commit-status/shared.js';
import { giteaRepo } from './commit-status/gitea.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

export const giteaPullRequestComment: ProviderAdapter<{ repo: ApiRepository; headers: Record<string, string> }> = {
  type: 'giteapullrequestcomment',
  prepare(config) {
    const bad = repositoryProblem(config, giteaRepo, 'a Gitea repository', 'https://<host>/<owner>/<repo>');
    if (bad) return problem(bad);
    const token = tokenOrPassword(config);
    if (!token) return problem('giteapullrequestcomment needs an access token in the `token` key of spec.secretRef');
    return prepared({ repo: giteaRepo(config.address)!, headers: { authorization: `token ${token}` } });
  },
  async send(event, { config, prepared: { repo, headers }, http }) {
    const number = changeRequestNumber(event);
    const author = await accountName(http, `${repo.apiBase}/user`, headers, 'login');

    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}/issues`;
    const listed = await getJson(http, `${base}/${number}/comments?limit=100&page=1`, headers, 'list pull request comments');
    const existing = findComment(listed, author, commentMarker(PR_COMMENT_PREFIX, config, event), (c) => field(c, 'user', 'login'));
    const body = commentBody(PR_COMMENT_PREFIX, config, event);
    if (existing) await putComment(http, 'PATCH', `${base}/comments/${existing}`, headers, body);
    else await putComment(http, 'POST', `${base}/${number}/comments`, headers, body);
  },
};
