// #/verwaltung: the admin's accounts page (GET/POST /users, PATCH /users/{name}): list, add,
// change role, disable / enable, reset the password.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { Message, PageTitle } from './components.js';
import { errorText } from './format.js';
import { label, t } from './i18n.js';
import { myName } from './store.js';

export const ROLES = ['agent', 'supervisor', 'technician', 'admin'];
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

function RoleSelect({ id, value, onChange, testid }) {
  return html`<select id=${id} data-testid=${testid} value=${value} onChange=${(e) => onChange(e.currentTarget.value)}>
    ${ROLES.map((r) => html`<option value=${r}>${label('role', r)}</option>`)}
  </select>`;
}

function UserRow({ u, onSaved, onMessage }) {
  const [role, setRole] = useState(u.role);
  const [pwOpen, setPwOpen] = useState(false);
  const [pw, setPw] = useState('');
  async function patch(body, okText) {
    try {
      const saved = await api.patchUser(u.name, body);
      onSaved(saved && saved.name ? saved : { ...u, ...body, password: undefined });
      onMessage({ kind: 'ok', text: okText });
      return true;
    } catch (e) {
      if (e.status !== 401) onMessage({ kind: 'error', text: errorText(e) });
      return false;
    }
  }
  async function setPassword(e) {
    e.preventDefault();
    if (pw.length < 8) {
      onMessage({ kind: 'error', text: t('adm.pw_short') });
      return;
    }
    if (await patch({ password: pw }, t('adm.pw_saved', { name: u.name }))) {
      setPw('');
      setPwOpen(false);
    }
  }
  const self = u.name === myName();
  return html`<tr data-testid=${`user-row-${u.name}`}>
    <th scope="row">${u.name}</th>
    <td>${u.display_name || '–'}</td>
    <td>
      <div class="row">
        <label class="sr-only" for=${`role-${u.name}`}>${t('adm.role')} ${u.name}</label>
        <${RoleSelect} id=${`role-${u.name}`} value=${role} onChange=${setRole} testid=${`user-role-${u.name}`} />
        <button type="button" data-testid=${`user-role-save-${u.name}`} disabled=${role === u.role}
          onClick=${() => patch({ role }, t('adm.saved', { name: u.name }))}>${t('adm.save_role')}</button>
      </div>
    </td>
    <td>${u.is_agent ? t('adm.yes') : t('adm.no')}</td>
    <td><span class=${u.disabled ? 'err-text' : 'ok-text'} data-testid=${`user-state-${u.name}`}>${u.disabled ? t('adm.disabled') : t('adm.active')}</span></td>
    <td>
      <div class="row wrap">
        <button type="button" data-testid=${`user-toggle-${u.name}`} disabled=${self && !u.disabled}
          onClick=${() => patch({ disabled: !u.disabled }, t('adm.saved', { name: u.name }))}>${u.disabled ? t('adm.enable') : t('adm.disable')}</button>
        <button type="button" data-testid=${`user-pw-${u.name}`} aria-expanded=${pwOpen ? 'true' : 'false'}
          onClick=${() => setPwOpen(!pwOpen)}>${t('adm.reset_pw')}</button>
      </div>
      ${pwOpen
        ? html`<form class="row wrap inline-form" onSubmit=${setPassword} novalidate>
            <label for=${`pw-${u.name}`}>${t('adm.new_pw', { name: u.name })}</label>
            <input id=${`pw-${u.name}`} type="password" autocomplete="new-password" minlength="8" data-testid=${`user-pw-input-${u.name}`}
              value=${pw} onInput=${(e) => setPw(e.currentTarget.value)} />
            <button type="submit" data-testid=${`user-pw-save-${u.name}`}>${t('adm.set_pw')}</button>
          </form>`
        : null}
    </td>
  </tr>`;
}

function AddUser({ onAdded, onMessage }) {
  const [form, setForm] = useState({ name: '', display_name: '', role: 'agent', password: '' });
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  async function submit(e) {
    e.preventDefault();
    if (!NAME_RE.test(form.name)) {
      onMessage({ kind: 'error', text: t('adm.name_invalid') });
      return;
    }
    if (form.password.length < 8) {
      onMessage({ kind: 'error', text: t('adm.pw_short') });
      return;
    }
    try {
      const user = await api.addUser(form);
      onAdded(user && user.name ? user : { ...form, password: undefined, disabled: false, is_agent: false });
      onMessage({ kind: 'ok', text: t('adm.created', { name: form.name }) });
      setForm({ name: '', display_name: '', role: 'agent', password: '' });
    } catch (err) {
      if (err.status !== 401) onMessage({ kind: 'error', text: errorText(err) });
    }
  }
  return html`<section class="card" aria-labelledby="add-user-h">
    <h2 id="add-user-h">${t('adm.add')}</h2>
    <form class="row wrap align-end" onSubmit=${submit} data-testid="user-add-form" novalidate>
      <div class="field"><label for="new-name">${t('adm.name')}</label>
        <input id="new-name" data-testid="user-add-name" required pattern="[a-z0-9][a-z0-9\\-]{0,62}" autocomplete="off" value=${form.name} onInput=${set('name')} /></div>
      <div class="field"><label for="new-display">${t('adm.display_name')}</label>
        <input id="new-display" data-testid="user-add-display" value=${form.display_name} onInput=${set('display_name')} /></div>
      <div class="field"><label for="new-role">${t('adm.role')}</label>
        <${RoleSelect} id="new-role" value=${form.role} onChange=${(r) => setForm({ ...form, role: r })} testid="user-add-role" /></div>
      <div class="field"><label for="new-password">${t('adm.password')}</label>
        <input id="new-password" type="password" autocomplete="new-password" minlength="8" required data-testid="user-add-password" value=${form.password} onInput=${set('password')} /></div>
      <button type="submit" class="btn-primary" data-testid="user-add-submit">${t('adm.create')}</button>
    </form>
  </section>`;
}

export function Verwaltung() {
  const [users, setUsers] = useState(null);
  const [msg, setMsg] = useState(null);
  async function load() {
    try {
      setUsers(await api.users());
    } catch (e) {
      if (e.status !== 401) setMsg({ kind: 'error', text: errorText(e) });
    }
  }
  useEffect(() => {
    load();
  }, []);
  const replace = (u) => setUsers((list) => (list || []).map((x) => (x.name === u.name ? { ...x, ...u } : x)));
  return html`
    <${PageTitle} testid="page-verwaltung">${t('adm.title')}<//>
    ${msg ? html`<${Message} kind=${msg.kind} text=${msg.text} testid="admin-msg" />` : null}
    <section class="card" aria-labelledby="users-h">
      <div class="row space-between">
        <h2 id="users-h">${t('adm.users')}</h2>
        <button type="button" data-testid="users-refresh" onClick=${load}>${t('common.refresh')}</button>
      </div>
      ${users
        ? html`<div class="table-wrap"><table data-testid="users-table">
            <thead><tr>
              <th scope="col">${t('adm.name')}</th><th scope="col">${t('adm.display_name')}</th><th scope="col">${t('adm.role')}</th>
              <th scope="col">${t('adm.agent')}</th><th scope="col">${t('adm.state')}</th><th scope="col">${t('adm.actions')}</th>
            </tr></thead>
            <tbody>${users.map((u) => html`<${UserRow} key=${u.name} u=${u} onSaved=${replace} onMessage=${setMsg} />`)}</tbody>
          </table></div>`
        : html`<p>${t('app.loading')}</p>`}
    </section>
    <${AddUser} onAdded=${(u) => setUsers((list) => [...(list || []), u])} onMessage=${setMsg} />
  `;
}
