// 融合 console: progressive enhancement only. Every page works without this script; with it,
// a browser that supports passkeys (WebAuthn) can sign in with one and register one.
"use strict";

async function postJson(url, body, csrf) {
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const answer = await fetch(url, {
    method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const message = data.error ? data.error.message : answer.statusText;
    throw new Error(message);
  }
  return data;
}

function passkeysAvailable() {
  return window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
}

function signInWithPasskey() {
  const form = document.getElementById("sign-in");
  const button = document.getElementById("passkey-sign-in");
  const status = document.getElementById("passkey-status");
  if (!form || !button || !passkeysAvailable()) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    status.textContent = "";
    const account = form.elements.account.value.trim();
    const password = form.elements.password.value;
    if (!account || !password) {
      status.textContent = "请先填写账号和密码，再用通行密钥登录。";
      return;
    }
    try {
      const started = await postJson("/api/v1/auth/passkey/start", { account, password });
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.options.publicKey);
      const credential = await navigator.credentials.get({ publicKey });
      await postJson("/api/v1/auth/passkey/finish", {
        ceremony: started.ceremony, credential: credential.toJSON(),
      });
      window.location.assign(form.elements.next.value || "/");
    } catch (err) {
      status.textContent = "通行密钥登录未成功：" + err.message;
    }
  });
}

function registerPasskey() {
  const form = document.getElementById("passkey-register");
  const status = document.getElementById("passkey-register-status");
  if (!form || !passkeysAvailable()) return;
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const csrf = form.elements.csrf_token.value;
    try {
      const started = await postJson("/api/v1/me/passkeys/registration", {}, csrf);
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
      const credential = await navigator.credentials.create({ publicKey });
      await postJson("/api/v1/me/passkeys", {
        ceremony: started.ceremony, name: form.elements.name.value, credential: credential.toJSON(),
      }, csrf);
      window.location.reload();
    } catch (err) {
      status.textContent = "注册未成功：" + err.message;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  signInWithPasskey();
  registerPasskey();
});
