// The browser side of the cookie transport. The access token lives in memory only;
// the refresh token sits in an HttpOnly cookie that no script can read.
let accessToken = null;

function csrfToken() {
  // The readable `csrf_token` cookie, echoed in a header: the double-submit proof.
  const match = document.cookie.match(/(?:^|;\s*)csrf_token=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function login(username, password) {
  const response = await fetch("/auth/login", {
    method: "POST",
    body: new URLSearchParams({ username, password }),
    credentials: "include",
  });
  if (!response.ok) throw new Error(`login failed: ${response.status}`);
  accessToken = (await response.json()).access_token;
  return response.status;
}

async function refresh() {
  const response = await fetch("/auth/refresh", {
    method: "POST",
    headers: { "X-CSRF-Token": csrfToken() },
    credentials: "include",
  });
  if (!response.ok) throw new Error(`refresh failed: ${response.status}`);
  accessToken = (await response.json()).access_token;
  return response.status;
}

async function api(path) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return { status: response.status, body: await response.json() };
}

async function logout() {
  const response = await fetch("/auth/logout", {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}` },
    credentials: "include",
  });
  accessToken = null;
  return response.status;
}
