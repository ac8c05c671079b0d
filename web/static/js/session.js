// Who is using the page: logging in through /api/v1/login, the token in sessionStorage (gone when the
// tab closes), and calls to the API with it. A pasted token (from `dispatch-center token`) works too.

const KEY = "dispatch.token";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
  // what to show: the status and the center's reason, e.g. "403 role display may not do this"
  get shown() {
    return `${this.status} ${this.message}`;
  }
}

export function config() {
  const node = document.getElementById("config");
  return node ? JSON.parse(node.textContent) : {};
}

// the claims of a JWT, unverified (the center verifies; the page only reads its role and unit)
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(decodeURIComponent(escape(text)));
  } catch {
    return null;
  }
}

function usable(token) {
  const c = token && claims(token);
  return Boolean(c && c.role && (!c.exp || c.exp * 1000 > Date.now() + 5000));
}

export function currentToken() {
  const token = sessionStorage.getItem(KEY);
  return usable(token) ? token : null;
}

export function logout() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

export async function api(method, path, body) {
  const token = currentToken();
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let reply;
  try {
    reply = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, `the center cannot be reached (${err.message})`, null);
  }
  const text = await reply.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!reply.ok) {
    const reason = (data && (data.error || data.detail)) || reply.statusText;
    throw new ApiError(reply.status, typeof reason === "string" ? reason : JSON.stringify(reason), data);
  }
  return data;
}

// Resolves with {token, claims} once someone is logged in with one of `roles`; shows the login box until
// then. `title` is the page's name in both languages.
export function requireLogin({ roles, title }) {
  const token = currentToken();
  if (token && roleAllowed(claims(token), roles)) return Promise.resolve({ token, claims: claims(token) });
  return new Promise((resolve) => {
    const error = showLogin({ roles, title, resolve });
    if (token) error(claims(token));
  });
}

function wrongRole(c, roles) {
  return `角色 ${c.role} 不能使用此页面 Role ${c.role} cannot use this page (${roles.join(", ")})`;
}

function roleAllowed(c, roles) {
  return c && (c.role === "admin" || roles.includes(c.role));
}

function showLogin({ roles, title, resolve }) {
  const box = document.createElement("div");
  box.className = "login-backdrop";
  box.innerHTML = `
    <form class="login" autocomplete="on">
      <h1>${title}</h1>
      <label>用户名 Username <input name="username" autocomplete="username" required></label>
      <label>密码 Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit" class="primary">登录 Log in</button>
      <p class="login-error" role="alert"></p>
      <details>
        <summary>使用令牌 Use a token</summary>
        <label>访问令牌 Access token <textarea name="token" rows="3" spellcheck="false"></textarea></label>
        <button type="button" class="use-token">使用 Use</button>
      </details>
    </form>`;
  document.body.appendChild(box);
  const form = box.querySelector("form");
  const error = box.querySelector(".login-error");
  const accept = (token) => {
    const c = claims(token);
    if (!usable(token)) {
      error.textContent = "令牌无效或已过期 The token is invalid or expired";
      return;
    }
    if (!roleAllowed(c, roles)) {
      error.textContent = wrongRole(c, roles);
      return;
    }
    sessionStorage.setItem(KEY, token);
    box.remove();
    resolve({ token, claims: c });
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    try {
      const reply = await api("POST", "/api/v1/login", {
        username: String(data.get("username")).trim(),
        password: String(data.get("password")),
      });
      accept(reply.token || reply.access_token);
    } catch (err) {
      error.textContent = err.status === 404 ? "此中心未开放登录 Login is not available here: use a token" : err.shown;
    }
  });
  box.querySelector(".use-token").addEventListener("click", () => accept(String(new FormData(form).get("token")).trim()));
  form.querySelector("input").focus();
  return (c) => (error.textContent = wrongRole(c, roles));
}

// the user line in a page's header, with a log-out button
export function whoami(el, c) {
  el.textContent = "";
  const who = document.createElement("span");
  who.textContent = `${c.sub} · ${c.role}${c.unit ? " #" + c.unit : ""}`;
  const out = document.createElement("button");
  out.className = "quiet";
  out.textContent = "退出 Log out";
  out.addEventListener("click", logout);
  el.append(who, out);
}
