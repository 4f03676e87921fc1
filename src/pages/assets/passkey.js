// The passkey buttons of the hosted pages (passwordless sign-in, second step): shown only
// where the browser has WebAuthn with its JSON helpers; the request options come from the
// container's data-webauthn-options, the assertion goes back in a hidden "assertion" field
// of the container (a form), or of a form made from its data-action and data-fields.
(() => {
  'use strict';
  const PKC = window.PublicKeyCredential;
  const supported =
    typeof PKC === 'function' &&
    typeof PKC.parseRequestOptionsFromJSON === 'function' &&
    typeof navigator.credentials?.get === 'function';
  if (!supported) return;
  const hiddenInput = (form, name, value) => {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.append(input);
    return input;
  };
  const formOf = (container) => {
    if (container instanceof HTMLFormElement) return container;
    const form = document.createElement('form');
    form.method = 'post';
    form.action = container.dataset.action;
    form.hidden = true;
    for (const [name, value] of Object.entries(JSON.parse(container.dataset.fields)))
      hiddenInput(form, name, String(value));
    hiddenInput(form, 'assertion', '');
    document.body.append(form);
    return form;
  };
  for (const container of document.querySelectorAll('[data-webauthn-options]')) {
    const button = container.querySelector('button[data-passkey]');
    const status = container.querySelector('[data-passkey-status]');
    if (!button) continue;
    container.hidden = false;
    button.addEventListener('click', async () => {
      button.disabled = true;
      if (status) status.hidden = true;
      try {
        const publicKey = PKC.parseRequestOptionsFromJSON(JSON.parse(container.dataset.webauthnOptions));
        const credential = await navigator.credentials.get({ publicKey });
        if (!credential) throw new Error('no credential');
        const form = formOf(container);
        form.querySelector('input[name="assertion"]').value = JSON.stringify(credential.toJSON());
        form.submit();
      } catch {
        // Cancelled, timed out or refused: the user may try again or use another way in.
        if (status) status.hidden = false;
        button.disabled = false;
      }
    });
  }
})();
