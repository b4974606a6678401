// The admin API from the page: JSON both ways, the bearer token the operator typed in (kept in
// this tab's sessionStorage only), `Content-Type: application/json` on every request that
// changes something (the API refuses anything else, which is what keeps other sites out).

const TOKEN_KEY = 'herald.adminToken';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Asks the operator for the token (set by the shell); resolves once one is stored. */
let promptForToken = () => Promise.reject(new ApiError(401, 'a valid bearer token is required'));
let pendingPrompt;

export function setTokenPrompt(prompt) {
  promptForToken = prompt;
}

/** One prompt at a time: every request refused meanwhile waits for the same answer. */
function askForToken(reason) {
  pendingPrompt ??= promptForToken(reason).finally(() => {
    pendingPrompt = undefined;
  });
  return pendingPrompt;
}

/** Calls the admin API; a 401 asks for the token and tries again; other failures throw an ApiError with the API's message. */
export async function api(path, { method = 'GET', body } = {}) {
  for (;;) {
    const token = storedToken();
    const headers = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (method !== 'GET') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }
    const res = await fetch(path, init);
    if (res.status === 401) {
      // Only forget the token this request used: another one may have been typed in meanwhile.
      if (token && storedToken() === token) forgetToken();
      await askForToken(token ? 'That token was refused. Enter the admin token again.' : 'This Herald requires its admin token.');
      continue;
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const detail = json && typeof json.message === 'string' ? json.message : res.statusText;
      throw new ApiError(res.status, `${res.status} ${json?.error ?? ''}: ${detail}`.replace(' :', ':'));
    }
    return json;
  }
}

/** `namespace/name` as two escaped path segments. */
export function objectPath(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}
