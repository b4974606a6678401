/**
 * `gitlabmergerequestcomment`: one note per object on the merge request named by the event's
 * `change_request` metadata (its IID), kept up to date, as Flux's notification-controller
 * writes it (shared rules in `./change-request.js`).
 *
 * - `spec.address` is the project, as for `gitlab` (`<scheme>://<host>/<group>/<project>`; the
 *   API is `<scheme>://<host>/api/v4`); the token (Secret `token`, `password` as a fallback)
 *   goes in `PRIVATE-TOKEN`.
 * - Requests: the account (`GET /user`), the notes
 *   (`GET /projects/<id>/merge_requests/<iid>/notes?order_by=created_at&per_page=100&sort=asc`),
 *   then `PUT …/notes/<note id>` or `POST …/notes` with `{"body": …}`.
 */
import { accountName, changeRequestNumber, commentBody, commentMarker, field, findComment, getJson, putComment, MR_COMMENT_PREFIX } from './change-request.js';
import { repositoryProblem, tokenOrPassword } from './commit-status/shared.js';
import { gitlabPathEscape, gitlabProject, type GitLabProject } from './commit-status/gitlab.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

export const gitlabMergeRequestComment: ProviderAdapter<{ project: GitLabProject; headers: Record<string, string> }> = {
  type: 'gitlabmergerequestcomment',
  prepare(config) {
    const bad = repositoryProblem(config, gitlabProject, 'a GitLab project', 'https://<host>/<group>/<project>');
    if (bad) return problem(bad);
    const token = tokenOrPassword(config);
    if (!token) return problem('gitlabmergerequestcomment needs an access token in the `token` key of spec.secretRef');
    return prepared({ project: gitlabProject(config.address)!, headers: { 'private-token': token } });
  },
  async send(event, { config, prepared: { project, headers }, http }) {
    const iid = changeRequestNumber(event);
    const author = await accountName(http, `${project.apiBase}/user`, headers, 'username');

    const notes = `${project.apiBase}/projects/${gitlabPathEscape(project.id)}/merge_requests/${iid}/notes`;
    const listed = await getJson(http, `${notes}?order_by=created_at&per_page=100&sort=asc`, headers, 'list merge request notes');
    const existing = findComment(listed, author, commentMarker(MR_COMMENT_PREFIX, config, event), (n) => field(n, 'author', 'username'));
    const body = commentBody(MR_COMMENT_PREFIX, config, event);
    if (existing) await putComment(http, 'PUT', `${notes}/${existing}`, headers, body);
    else await putComment(http, 'POST', notes, headers, body);
  },
};
