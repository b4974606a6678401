/**
 * `githubpullrequestcomment`: one comment per object on the pull request named by the event's
 * `change_request` metadata, kept up to date, as Flux's notification-controller writes it
 * (shared rules in `./change-request.js`).
 *
 * - `spec.address` is the repository, as for `github` (github.com → api.github.com, any other
 *   host → `<host>/api/v3`).
 * - Authentication as `github`: the Secret's `token` (`password` as a fallback), or GitHub App
 *   credentials, whose comments are written by `<app slug>[bot]`.
 * - Requests: the account (`GET /user`, or the App's slug), the comments
 *   (`GET /repos/<o>/<r>/issues/<n>/comments?direction=asc&per_page=100&sort=created`), then
 *   `PATCH /repos/<o>/<r>/issues/comments/<id>` or `POST /repos/<o>/<r>/issues/<n>/comments`
 *   with `{"body": …}`.
 */
import { accountName, changeRequestNumber, commentBody, commentMarker, field, findComment, getJson, putComment, PR_COMMENT_PREFIX } from './change-request.js';
import { repositoryProblem, seg, type ApiRepository } from './commit-status/shared.js';
import { githubHeaders, githubRepo } from './commit-status/github.js';
import { githubBearer, githubCredentialsProblem } from './github-app.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

export const githubPullRequestComment: ProviderAdapter<ApiRepository> = {
  type: 'githubpullrequestcomment',
  prepare(config) {
    const bad =
      repositoryProblem(config, githubRepo, 'a GitHub repository', 'https://<host>/<owner>/<repo>') ??
      githubCredentialsProblem(config, { passwordFallback: true });
    return bad ? problem(bad) : prepared(githubRepo(config.address)!);
  },
  async send(event, { config, prepared: repo, http }) {
    const number = changeRequestNumber(event);
    const auth = await githubBearer(config, http, { passwordFallback: true, withSlug: true });
    const headers = githubHeaders(auth.token);
    const author = auth.slug !== undefined ? `${auth.slug}[bot]` : await accountName(http, `${repo.apiBase}/user`, headers, 'login');

    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}/issues`;
    const listed = await getJson(http, `${base}/${number}/comments?direction=asc&per_page=100&sort=created`, headers, 'list pull request comments');
    const existing = findComment(listed, author, commentMarker(PR_COMMENT_PREFIX, config, event), (c) => field(c, 'user', 'login'));
    const body = commentBody(PR_COMMENT_PREFIX, config, event);
    if (existing) await putComment(http, 'PATCH', `${base}/comments/${existing}`, headers, body);
    else await putComment(http, 'POST', `${base}/${number}/comments`, headers, body);
  },
};
