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
import { invalidProvider, repositoryProblem, tokenOrPassword } from './commit-status.js';
import { gitlabPathEscape, gitlabProject } from './gitlab.js';
import type { ProviderAdapter } from './types.js';

export const gitlabMergeRequestComment: ProviderAdapter = {
  type: 'gitlabmergerequestcomment',
  validate(config) {
    const problem = repositoryProblem(config, gitlabProject, 'a GitLab project', 'https://<host>/<group>/<project>');
    if (problem) return problem;
    return tokenOrPassword(config) ? undefined : 'gitlabmergerequestcomment needs an access token in the `token` key of spec.secretRef';
  },
  async send(event, { config, http }) {
    const project = gitlabProject(config.address);
    const token = tokenOrPassword(config);
    if (!project || !token) throw invalidProvider(gitlabMergeRequestComment, config);
    const iid = changeRequestNumber(event);
    const headers = { 'private-token': token };
    const author = await accountName(http, `${project.apiBase}/user`, headers, 'username');

    const notes = `${project.apiBase}/projects/${gitlabPathEscape(project.id)}/merge_requests/${iid}/notes`;
    const listed = await getJson(http, `${notes}?order_by=created_at&per_page=100&sort=asc`, headers, 'list merge request notes');
    const existing = findComment(listed, author, commentMarker(MR_COMMENT_PREFIX, config, event), (n) => field(n, 'author', 'username'));
    const body = commentBody(MR_COMMENT_PREFIX, config, event);
    if (existing) await putComment(http, 'PUT', `${notes}/${existing}`, headers, body);
    else await putComment(http, 'POST', notes, headers, body);
  },
};
