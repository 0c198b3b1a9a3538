// The page a link opens (https://app.example/reset-password#token=...): the token is in
// the fragment, which the browser never sends to a server nor puts in a Referer.

// Take the token out of the fragment, and out of the address bar and the history.
function takeLinkToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token;
}

// POST it with whatever else the route needs; the answer is JSON either way.
async function confirmLink(path, token, extra = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin", // /auth/login-link/confirm sets the refresh cookie
    body: JSON.stringify({ token, ...extra }),
  });
  return { status: response.status, body: await response.json() };
}
