// sora-mock dashboard: plain JavaScript over the admin API (/__mock/...) and the provider APIs.
// Everything shown comes from the admin API, everything done goes through a provider's own API,
// so a script can do the same. No framework, no build step, nothing fetched from elsewhere.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const ORIGIN = window.location.origin;
  // once a second; `?poll=250` (milliseconds, 100 or more) polls faster, e.g. in tests
  const POLL_MS = Math.max(100, Number(new URLSearchParams(window.location.search).get("poll")) || 1000);

  // ---------------------------------------------------------------- provider APIs
  // How each provider API creates a job and reports it: its own paths and fields, as in
  // contracts/*.yaml. `image` is "file" (multipart upload) or "url" (a URL the mock serves).
  const SORA2_SIZES = ["720x1280", "1280x720"];
  const PRO_SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024"];
  const APIS = {
    "gptge-videos": {
      label: "gpt.ge · /v1/videos",
      provider: "gptge",
      models: { "sora-2": SORA2_SIZES, "sora-2-pro": PRO_SIZES },
      seconds: () => ["4", "8", "12"],
      image: "file",
      imageRequired: true,
      createPath: "/gptge/v1/videos",
      statusPath: (id) => `/gptge/v1/videos/${id}`,
      idOf: (body) => body.id,
    },
    "gptproto-videos": {
      label: "GPTProto · /v1/videos",
      provider: "gptproto",
      models: { "sora-2": SORA2_SIZES, "sora-2-pro": PRO_SIZES },
      seconds: () => ["4", "8", "12"],
      image: "file",
      createPath: "/gptproto/v1/videos",
      statusPath: (id) => `/gptproto/v1/videos/${id}`,
      idOf: (body) => body.id,
    },
    "gptproto-v3": {
      label: "GPTProto · v3 image-to-video",
      provider: "gptproto",
      models: { "sora-2": SORA2_SIZES, "sora-2-pro": PRO_SIZES },
      seconds: (model) => (model === "sora-2-pro" ? ["10", "15", "25"] : ["10", "15"]),
      image: "url",
      imageRequired: true,
      // one documented URL for both models: `model` in the body picks (contracts/gptproto-v3.yaml)
      createPath: "/gptproto/api/v3/openai/reverse/sora-2/image-to-video",
      statusPath: (id) => `/gptproto/api/v3/predictions/${encodeURIComponent(id)}/result`,
      idOf: (body) => body.data && body.data.id,
      body: (f, imageUrl) => {
        const [w, h] = f.size.split("x").map(Number);
        return {
          model: f.model,
          prompt: f.prompt,
          images: [imageUrl],
          size: Math.max(w, h) > 1280 ? "large" : "small",
          orientation: w > h ? "landscape" : "portrait",
          duration: Number(f.seconds),
        };
      },
    },
    "gptproto-chat": {
      label: "GPTProto · chat mode",
      provider: "gptproto",
      models: { "sora-2": SORA2_SIZES },
      seconds: () => ["4", "8", "10", "12", "15"],
      image: "url",
      createPath: "/gptproto/v1/chat/completions",
      statusPath: null, // chat mode reports on the stream it answers with
      idOf: (body) => body.id,
      body: (f, imageUrl) => {
        const content = [{ type: "text", text: `${f.prompt}\n\nduration: ${f.seconds}s` }];
        if (imageUrl) content.push({ type: "image_url", image_url: { url: imageUrl } });
        return { model: f.model, stream: true, messages: [{ role: "user", content }] };
      },
    },
    "vtrix-generation": {
      label: "Vtrix · generation task",
      provider: "vtrix",
      models: { sora_2_pro_i2v: SORA2_SIZES },
      seconds: () => ["4", "8", "12"],
      image: "url",
      createPath: "/vtrix/model/v1/generation",
      statusPath: (id) => `/vtrix/model/v1/generation/task/${id}`,
      idOf: (body) => body.id,
      body: (f, imageUrl) => {
        const body = { model: f.model, prompt: f.prompt, size: f.size, seconds: f.seconds };
        if (imageUrl) body.input_reference = imageUrl;
        return body;
      },
    },
  };
  // the providers whose APIs and snippets this page writes out by hand
  const HAND_WRITTEN = new Set(Object.values(APIS).map((spec) => spec.provider));
  // the sora_client provider name to show in each provider's snippet (a declared provider's
  // comes with its declaration, below)
  const CLIENT_NAMES = { gptproto: "gptproto-videos", gptge: "gptge", vtrix: "vtrix" };

  // A declared provider (contracts/_declaration.py) is described by the index (GET /): the
  // create's path and JSON body with "{model}", "{prompt}", "{seconds}", "{size}", "{image}"
  // where the values go, the status path, where the id is, the models (a models file's too).
  function fillTemplate(template, values) {
    if (Array.isArray(template)) return template.map((item) => fillTemplate(item, values));
    if (template && typeof template === "object") return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillTemplate(v, values)]));
    const whole = typeof template === "string" && template.match(/^\{(\w+)\}$/);
    return whole && whole[1] in values ? values[whole[1]] : template;
  }

  function pointerGet(body, pointer) {
    let node = body;
    for (const step of pointer.split("/").filter(Boolean)) node = node && typeof node === "object" ? node[step] : undefined;
    return node;
  }

  function pointerSet(body, pointer, value) {
    const steps = pointer.split("/").filter(Boolean);
    let node = body;
    for (const step of steps.slice(0, -1)) node = node[step] = node[step] || {};
    node[steps[steps.length - 1]] = value;
  }

  function declaredBody(form, values) {
    const model = form.models[values.model];
    const withImage = values.image && (!model || model.image);
    const body = fillTemplate(withImage ? form.body : form.body_without_image, values);
    // a size named in words (the declaration's size-fields): its fields, in place of WxH
    const named = (form.size_fields || {})[values.size] || {};
    for (const [pointer, word] of Object.entries(named)) pointerSet(body, pointer, word);
    return body;
  }

  function declaredApi(prefix, form) {
    return {
      label: form.label,
      provider: prefix,
      models: Object.fromEntries(Object.entries(form.models).map(([id, m]) => [id, m.sizes])),
      seconds: (model) => (form.models[model] ? form.models[model].durations.map(String) : []),
      takesImage: (model) => !form.models[model] || form.models[model].image,
      image: "url",
      createPath: `/${prefix}${form.create_path}`,
      statusPath: form.status_path ? (id) => `/${prefix}${form.status_path.replace("{id}", encodeURIComponent(id))}` : null,
      idOf: (body) => pointerGet(body, form.id_pointer),
      body: (f, imageUrl) => declaredBody(form, { model: f.model, prompt: f.prompt, seconds: Number(f.seconds), size: f.size, image: imageUrl }),
    };
  }

  // the index's declared forms join APIS: a new API is added; one the page knows already
  // (a Python dialect) takes only the models, so a models file shows in its form too
  function learnApis(providers) {
    for (const [prefix, info] of Object.entries(providers)) {
      for (const c of info.contracts) {
        if (!c.declared) continue;
        if (!HAND_WRITTEN.has(prefix)) CLIENT_NAMES[prefix] = c.declared.client;
        const known = APIS[c.name];
        if (!known || known.declared) {
          APIS[c.name] = { ...declaredApi(prefix, c.declared), declared: true };
        } else {
          const spec = declaredApi(prefix, c.declared);
          known.models = spec.models;
          known.seconds = spec.seconds;
        }
      }
    }
  }

  function fillApiSelect() {
    const select = $("#create-api");
    const chosen = select.value;
    select.replaceChildren(...Object.entries(APIS).map(([name, spec]) => el("option", { value: name }, spec.label)));
    if (chosen && chosen in APIS) select.value = chosen;
  }

  // ---------------------------------------------------------------- small helpers
  const state = {
    clock: null,
    jobs: new Map(),
    selected: null,
    file: null,
    knownScenarios: [],
    jobPage: null,
    jobPageStatus: null,
    polling: false,
  };

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // X-Mock-Client marks the dashboard's own requests: the journal tags them, the console leaves
  // them out, and the admin API takes a change with it whatever the Origin (a reverse proxy's)
  async function api(path, options = {}) {
    const response = await fetch(path, {
      ...options,
      headers: { Accept: "application/json", "X-Mock-Client": "dashboard", ...(options.headers || {}) },
    });
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    return { ok: response.ok, status: response.status, body, headers: response.headers };
  }

  function errorMessage(body) {
    if (!body || typeof body !== "object") return String(body || "");
    const e = body.error;
    if (e && typeof e === "object") return e.message || e.error_message || JSON.stringify(e);
    if (typeof e === "string") return e;
    return body.message || JSON.stringify(body);
  }

  function toast(message, kind = "info") {
    const box = $("#toasts");
    const item = el("div", { class: `toast ${kind}` }, message);
    box.append(item);
    if (kind === "error") $("#alerts").textContent = message;
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  async function copy(text, label) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        const area = el("textarea", { class: "visually-hidden", "aria-hidden": "true" });
        area.value = text;
        document.body.append(area);
        area.select();
        document.execCommand("copy");
        area.remove();
      }
      toast(`Copied ${label}`);
    } catch (err) {
      toast(`Could not copy: ${err}`, "error");
    }
  }

  function copyButton(text, label) {
    return el("button", { type: "button", class: "copy", "aria-label": `Copy ${label}`, onclick: () => copy(typeof text === "function" ? text() : text, label) }, "Copy");
  }

  function clockTime(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    return new Date(seconds * 1000).toISOString().slice(11, 19);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  }

  function statusBadge(status) {
    return el("span", { class: `badge status-${status}` }, status.replace("_", " "));
  }

  function httpBadge(code) {
    return el("span", { class: `badge http-${Math.floor(code / 100)}xx` }, String(code));
  }

  // "1 operation", "2 operations"
  function plural(count, one, many = `${one}s`) {
    return `${count} ${count === 1 ? one : many}`;
  }

  // a path that may break after each slash, never inside a segment (see .request .path)
  function breakablePath(path) {
    const parts = [];
    String(path).split(/(?<=\/)/).forEach((segment, i) => {
      if (i) parts.push(el("wbr"));
      parts.push(segment);
    });
    return parts;
  }

  // A table wider than its card scrolls inside it: edge shadows and a line of text say so.
  function watchOverflow(wrap) {
    if (wrap.dataset.watched) return;
    wrap.dataset.watched = "1";
    const hint = el("p", { class: "scroll-hint", hidden: true }, "Scroll sideways for more columns →");
    wrap.after(hint);
    const update = () => {
      const more = wrap.scrollWidth - wrap.clientWidth > 1;
      wrap.classList.toggle("more-left", more && wrap.scrollLeft > 1);
      wrap.classList.toggle("more-right", more && wrap.scrollLeft < wrap.scrollWidth - wrap.clientWidth - 1);
      hint.hidden = !more;
      // scrollable by keyboard too, named after its table
      if (more) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", (wrap.querySelector("caption") || { textContent: "Table" }).textContent);
      } else {
        for (const name of ["tabindex", "role", "aria-label"]) wrap.removeAttribute(name);
      }
    };
    wrap.addEventListener("scroll", update, { passive: true });
    const observer = new ResizeObserver(update);
    observer.observe(wrap);
    const table = wrap.querySelector("table");
    if (table) observer.observe(table);
    update();
  }

  function shellQuote(text) {
    return `'${String(text).replace(/'/g, `'\\''`)}'`;
  }

  // ---------------------------------------------------------------- the create form
  function fillSelect(select, values, keep) {
    const previous = keep ? select.value : null;
    select.replaceChildren(...values.map((v) => el("option", { value: v }, v)));
    if (previous && values.includes(previous)) select.value = previous;
  }

  function syncForm() {
    const spec = APIS[$("#create-api").value];
    fillSelect($("#create-model"), Object.keys(spec.models), true);
    const model = $("#create-model").value;
    fillSelect($("#create-size"), spec.models[model], true);
    fillSelect($("#create-seconds"), spec.seconds(model), true);
    const none = $('input[name="image-source"][value="none"]');
    none.disabled = !!spec.imageRequired;
    if (none.disabled && none.checked) $('input[name="image-source"][value="sample"]').checked = true;
    // a declared model that takes no reference image: none is the only choice
    const noImage = !!spec.takesImage && !spec.takesImage(model);
    for (const radio of $$('input[name="image-source"]')) if (radio.value !== "none") radio.disabled = noImage;
    if (noImage) none.checked = true;
    syncImage();
  }

  function imageSource() {
    return $('input[name="image-source"]:checked').value;
  }

  function syncImage() {
    const source = imageSource();
    const preview = $("#image-preview");
    const size = $("#create-size").value;
    if (source === "sample") {
      preview.src = `/__mock/sample-image?size=${size}`;
      preview.alt = `Sample reference image, ${size}`;
      preview.hidden = false;
      $("#image-name").textContent = "Sample: a cat in a hat";
      $("#image-detail").textContent = `drawn by the mock at ${size}`;
    } else if (source === "file" && state.file) {
      preview.src = URL.createObjectURL(state.file);
      preview.alt = `Your reference image, ${state.file.name}`;
      preview.hidden = false;
      $("#image-name").textContent = state.file.name;
      $("#image-detail").textContent = $("#create-fit").checked ? `resized to ${size} before sending` : "sent as it is";
    } else if (source === "file") {
      preview.hidden = true;
      $("#image-name").textContent = "No image chosen";
      $("#image-detail").textContent = "PNG, JPEG or WebP";
    } else {
      preview.hidden = true;
      $("#image-name").textContent = "No reference image";
      $("#image-detail").textContent = "the mock renders a placeholder frame";
    }
    $("#drop-zone").classList.toggle("disabled", source === "none");
  }

  function takeFile(file) {
    if (!file) return;
    if (!/^image\/(png|jpeg|webp)$/.test(file.type)) {
      toast(`${file.name} is not a PNG, JPEG or WebP image`, "error");
      return;
    }
    state.file = file;
    $('input[name="image-source"][value="file"]').checked = true;
    syncImage();
  }

  async function fitImage(blob, size) {
    const [w, h] = size.split("x").map(Number);
    const bitmap = await createImageBitmap(blob);
    if (bitmap.width === w && bitmap.height === h) return blob;
    const canvas = el("canvas", { width: w, height: h });
    const ctx = canvas.getContext("2d");
    const scale = Math.max(w / bitmap.width, h / bitmap.height); // cover, centred
    const dw = bitmap.width * scale;
    const dh = bitmap.height * scale;
    ctx.drawImage(bitmap, (w - dw) / 2, (h - dh) / 2, dw, dh);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  async function referenceImage(size) {
    const source = imageSource();
    if (source === "none") return null;
    if (source === "sample") {
      const response = await fetch(`/__mock/sample-image?size=${size}`);
      return new File([await response.blob()], `cat-${size}.png`, { type: "image/png" });
    }
    if (!state.file) throw new Error("Choose an image, or use the built-in sample");
    if (!$("#create-fit").checked) return state.file;
    const fitted = await fitImage(state.file, size);
    return new File([fitted], state.file.name.replace(/\.\w+$/, "") + `-${size}.png`, { type: "image/png" });
  }

  async function uploadImage(file) {
    const response = await api("/__mock/files", { method: "POST", headers: { "Content-Type": file.type }, body: file });
    if (!response.ok) throw new Error(errorMessage(response.body));
    return response.body.url;
  }

  async function readFirstEvent(response) {
    // chat mode answers with server-sent events: the first one carries the job id
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const match = buffer.match(/^data: (\{.*\})$/m);
        if (match) return JSON.parse(match[1]);
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    return null;
  }

  async function createJob(event) {
    event.preventDefault();
    const form = {
      api: $("#create-api").value,
      prompt: $("#create-prompt").value.trim(),
      model: $("#create-model").value,
      size: $("#create-size").value,
      seconds: $("#create-seconds").value,
      scenario: $("#create-scenario").value,
      key: $("#create-key").value.trim(),
    };
    const result = $("#create-result");
    if (!form.prompt || !form.key) {
      result.textContent = !form.prompt ? "Write a prompt first." : "An API key is needed (any non-empty text).";
      result.className = "result error";
      (!form.prompt ? $("#create-prompt") : $("#create-key")).focus();
      return;
    }
    localStorage.setItem("sora-mock-key", form.key);
    const spec = APIS[form.api];
    const submit = $("#create-submit");
    submit.disabled = true;
    result.className = "result";
    result.textContent = "Sending…";
    try {
      const image = await referenceImage(form.size);
      const headers = { Authorization: `Bearer ${form.key}` };
      if (form.scenario) headers["X-Mock-Scenario"] = form.scenario;
      let init;
      if (spec.image === "file") {
        const data = new FormData();
        data.append("prompt", form.prompt);
        data.append("model", form.model);
        data.append("seconds", form.seconds);
        data.append("size", form.size);
        if (image) data.append("input_reference", image, image.name);
        init = { method: "POST", headers, body: data };
      } else {
        const url = image ? await uploadImage(image) : null;
        init = { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(spec.body(form, url)) };
      }
      const path = typeof spec.createPath === "function" ? spec.createPath(form.model) : spec.createPath;
      const response = await fetch(path, init);
      let body;
      if ((response.headers.get("content-type") || "").includes("text/event-stream")) {
        body = await readFirstEvent(response);
      } else {
        body = await response.json();
      }
      if (!response.ok) {
        result.className = "result error";
        result.textContent = `${response.status}: ${errorMessage(body)}`;
        return;
      }
      const id = spec.idOf(body);
      result.className = "result ok";
      result.replaceChildren("Created ", el("a", { href: `#job/${encodeURIComponent(id)}` }, id));
      state.selected = id;
      await refresh();
    } catch (err) {
      result.className = "result error";
      result.textContent = String(err.message || err);
    } finally {
      submit.disabled = false;
    }
  }

  // ---------------------------------------------------------------- jobs
  function timings(job) {
    const now = state.clock ? state.clock.now : null;
    const waited = (job.started_at ?? now) - job.created_at;
    const parts = [`queued ${duration(Math.max(0, waited))}`];
    if (job.started_at !== null) {
      const end = job.finished_at ?? now;
      parts.push(`${job.finished_at !== null ? "ran" : "running"} ${duration(Math.max(0, end - job.started_at))}`);
    }
    return parts.join("\n");
  }

  function jobRow(job) {
    const row = el("tr", { "data-id": job.id });
    row.append(
      el("td", { class: "id" }, el("a", { href: `#job/${encodeURIComponent(job.id)}`, class: "job-link", title: job.id }, job.id), el("div", { class: "muted small job-link-sub" }, el("span", { class: "api-inline" }, `${job.api} · `), `${job.width}x${job.height} · ${job.seconds} s · ${clockTime(job.created_at)}`)),
      el("td", { class: "api" }, job.api, el("div", { class: "muted small" }, job.model)),
      el("td", { class: "status" }),
      el("td", { class: "progress-col" }, el("progress", { max: "1", value: "0", "aria-label": `Progress of ${job.id}` }), el("span", { class: "pct" })),
      el("td", { class: "timings small" }),
      el("td", { class: "scenario" }),
      el("td", { class: "failure" }),
    );
    row.addEventListener("click", (e) => {
      if (e.target.closest("a")) return;
      select(job.id);
    });
    row.addEventListener("focusin", () => select(job.id)); // keyboard users select by tabbing
    return row;
  }

  function updateRow(row, job) {
    const cells = row.children;
    const statusCell = cells[2];
    if (statusCell.dataset.value !== job.status) {
      statusCell.dataset.value = job.status;
      statusCell.replaceChildren(statusBadge(job.status));
    }
    const bar = cells[3].firstChild;
    bar.value = job.progress;
    bar.classList.toggle("failed", job.status === "failed");
    cells[3].lastChild.textContent = `${Math.round(job.progress * 100)} %`;
    bar.title = cells[3].lastChild.textContent;
    cells[4].textContent = timings(job);
    cells[5].textContent = job.replay ? `replayed: ${job.replay.cassette}` : job.scenario || "";
    cells[6].textContent = job.error ? job.error.code || "" : "";
    cells[6].title = job.error ? job.error.message || "" : "";
    row.classList.toggle("selected", state.selected === job.id);
    row.setAttribute("aria-selected", state.selected === job.id ? "true" : "false");
  }

  async function refreshJobs() {
    const params = new URLSearchParams({ limit: "100", order: "desc" });
    const provider = $("#filter-provider").value;
    const status = $("#filter-status").value;
    if (provider) params.set("provider", provider);
    if (status) params.set("status", status);
    const { ok, body } = await api(`/__mock/jobs?${params}`);
    if (!ok) return;
    const jobs = body.data; // newest first
    const tbody = $("#jobs-body");
    const rows = new Map($$("tr", tbody).map((r) => [r.dataset.id, r]));
    state.jobs = new Map(jobs.map((j) => [j.id, j]));
    let previous = null;
    for (const job of jobs) {
      let row = rows.get(job.id);
      if (!row) row = jobRow(job);
      rows.delete(job.id);
      updateRow(row, job);
      const expected = previous ? previous.nextSibling : tbody.firstChild;
      if (expected !== row) tbody.insertBefore(row, expected);
      previous = row;
    }
    for (const row of rows.values()) row.remove();
    $("#jobs-count").textContent = body.has_more ? `newest ${jobs.length}` : String(jobs.length);
    $("#jobs-empty").hidden = jobs.length > 0;
    syncSelected();
  }

  function select(id) {
    state.selected = id;
    for (const row of $$("#jobs-body tr")) {
      const on = row.dataset.id === id;
      row.classList.toggle("selected", on);
      row.setAttribute("aria-selected", on ? "true" : "false");
    }
    syncSelected();
  }

  function selectedJob() {
    if (!state.selected) return null;
    if (state.jobPage && state.jobPage.id === state.selected) return state.jobPage;
    return state.jobs.get(state.selected) || null;
  }

  function remaining(job) {
    const end = job.created_at + job.planned.queue_seconds + job.planned.render_seconds;
    // a job page opened by its address asks for the job before the clock is read
    return state.clock ? Math.max(0, end - state.clock.now) : 0;
  }

  function syncSelected() {
    const job = selectedJob();
    const button = $("#run-selected");
    const hint = $("#selected-hint");
    const virtual = state.clock && state.clock.kind === "virtual";
    if (!job) {
      button.disabled = true;
      hint.textContent = "Select a job in the list first.";
    } else if (job.status === "completed" || job.status === "failed") {
      button.disabled = true;
      hint.textContent = `${job.id} has ${job.status}.`;
    } else {
      button.disabled = !virtual;
      hint.textContent = `${job.id}: ${duration(remaining(job))} to go.`;
    }
  }

  // ---------------------------------------------------------------- clock
  async function refreshClock() {
    // the heartbeat: an answer that does not come in time, or is not the clock, is a lost mock
    const signal = AbortSignal.timeout(Math.max(3000, 3 * POLL_MS));
    const [clock, health] = await Promise.all([api("/__mock/clock", { signal }), state.clock ? null : api("/__mock/health", { signal })]);
    if (!clock.ok) throw new Error(`the admin API answered ${clock.status}`);
    state.clock = clock.body;
    $("#clock-kind").textContent = `${clock.body.kind} clock`;
    const now = $("#clock-now");
    now.textContent = new Date(clock.body.now * 1000).toISOString().replace("T", " ").slice(0, 19);
    now.dateTime = new Date(clock.body.now * 1000).toISOString();
    $("#clock-pill").classList.toggle("virtual", clock.body.kind === "virtual");
    if (health && health.ok) $("#store-kind").textContent = health.body.store;
    const virtual = clock.body.kind === "virtual";
    for (const control of $$("#advance-form input, #advance-form button, .quick button")) control.disabled = !virtual;
    $("#clock-hint").textContent = virtual ? "Jobs move only when the clock does." : "The clock is real: start the mock with --clock virtual to control it.";
  }

  async function advance(seconds) {
    const { ok, body } = await api("/__mock/clock/advance", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ seconds }) });
    if (!ok) {
      toast(errorMessage(body), "error");
      return;
    }
    toast(`Clock advanced by ${duration(seconds)}`);
    await refresh();
  }

  // ---------------------------------------------------------------- scenarios and faults
  async function refreshScenarios() {
    const { ok, body } = await api("/__mock/scenarios");
    if (!ok) return;
    const effects = new Map((body.scenarios || []).map((s) => [s.name, s]));
    if (state.knownScenarios.join() !== body.known.join()) {
      state.knownScenarios = body.known;
      const options = () => body.known.map((name) => el("option", { value: name, title: effects.has(name) ? effects.get(name).effect : null }, scenarioLabel(name, effects)));
      const named = $("#scenario-name");
      const chosen = named.value;
      named.replaceChildren(...options());
      if (body.known.includes(chosen)) named.value = chosen;
      const create = $("#create-scenario");
      const previous = create.value;
      create.replaceChildren(el("option", { value: "" }, "none"), ...options());
      create.value = previous;
    }
    const list = $("#rules");
    const items = body.rules.map((r) => {
      const scope = r.key ? `requests with key ${r.key}` : r.provider ? `${r.provider} requests` : "every request";
      const times = r.remaining === null ? "until removed" : `${plural(r.remaining, "more request", "more requests")}`;
      const base = r.scenario.split(":")[0];
      const statuses = effects.has(base) ? effects.get(base).statuses : [];
      return el(
        "li",
        { class: "rule", "data-rule": String(r.id) },
        el("span", { class: "badge scenario" }, r.scenario),
        statuses.length ? el("span", { class: "status-code", title: "answers with" }, statuses.join("/")) : null,
        el("span", { class: "what" }, `${scope} · ${times}`),
        el("button", { type: "button", class: "remove ghost", "aria-label": `Remove the ${r.scenario} rule for ${scope}`, onclick: () => removeRule(r) }, "Remove"),
      );
    });
    if (!items.length) items.push(el("li", { class: "muted" }, "No scenario in force: requests succeed."));
    const signature = JSON.stringify(body.rules);
    if (list.dataset.signature !== signature) {
      list.dataset.signature = signature;
      list.replaceChildren(...items);
    }
  }

  async function addScenario(event) {
    event.preventDefault();
    const payload = { scenario: $("#scenario-name").value };
    const times = $("#scenario-times").value;
    if (times) payload.times = Number(times);
    const scope = $("#scenario-scope").value;
    if (scope === "key") {
      const key = $("#scenario-key").value.trim();
      if (!key) {
        toast("Give the API key the scenario applies to", "error");
        $("#scenario-key").focus();
        return;
      }
      payload.api_key = key;
    }
    if (scope === "provider") payload.provider = $("#scenario-provider").value;
    const { ok, body } = await api("/__mock/scenarios", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    if (!ok) {
      toast(errorMessage(body), "error");
      return;
    }
    toast(`${payload.scenario} switched on`);
    await refreshScenarios();
  }

  async function clearScenarios() {
    const { ok, body } = await api("/__mock/scenarios", { method: "DELETE" });
    toast(ok ? `Cleared ${plural(body.removed, "rule")}` : errorMessage(body), ok ? "info" : "error");
    await refreshScenarios();
  }

  async function removeRule(rule) {
    const { ok, status, body } = await api(`/__mock/scenarios/${rule.id}`, { method: "DELETE" });
    if (ok) toast(`${rule.scenario} switched off`);
    else toast(status === 404 ? `The ${rule.scenario} rule was already gone (used up?)` : errorMessage(body), status === 404 ? "info" : "error");
    await refreshScenarios();
  }

  // "rate_limited · 429", "slow · 3 s late": the words are the admin API's
  function scenarioLabel(name, effects) {
    const effect = effects.get(name);
    return effect && effect.summary ? `${name} · ${effect.summary}` : name;
  }

  function showRate() {
    $("#fault-rate-out").textContent = `${Math.round(Number($("#fault-rate").value) * 100)} %`;
  }

  async function loadFaults() {
    const { ok, body } = await api("/__mock/faults");
    if (!ok) return;
    $("#fault-rate").value = String(body.rate);
    $("#fault-seed").value = String(body.seed);
    showRate();
  }

  async function applyFaults(event) {
    event.preventDefault();
    const payload = { rate: Number($("#fault-rate").value), seed: Number($("#fault-seed").value || 0) };
    const { ok, body } = await api("/__mock/faults", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    toast(ok ? `Random fault rate: ${Math.round(body.rate * 100)} %` : errorMessage(body), ok ? "info" : "error");
  }

  // ---------------------------------------------------------------- journal
  // the latest entries (as many as benchmarks/bench_dashboard.py polls), filtered here by
  // provider, status and "errors only"
  const JOURNAL_LIMIT = 50;

  async function refreshJournal() {
    const { ok, body } = await api(`/__mock/journal?limit=${JOURNAL_LIMIT}`);
    if (!ok) return;
    const all = body.data.slice().reverse();
    const provider = $("#journal-provider").value;
    const status = $("#journal-status").value;
    const errorsOnly = $("#journal-errors").checked;
    // the statuses offered are the ones in the journal (and the one chosen, while it lasts)
    const codes = [...new Set(all.map((e) => String(e.status)).concat(status ? [status] : []))].sort();
    const statusSelect = $("#journal-status");
    if (statusSelect.dataset.codes !== codes.join()) {
      statusSelect.dataset.codes = codes.join();
      statusSelect.replaceChildren(el("option", { value: "" }, "all"), ...codes.map((c) => el("option", { value: c }, c)));
      statusSelect.value = status;
    }
    const entries = all.filter((e) => (!provider || e.provider === provider) && (!status || String(e.status) === status) && (!errorsOnly || e.status >= 400 || e.status === 0));
    const tbody = $("#journal-body");
    const filtered = provider || status || errorsOnly;
    const signature = [entries.length ? entries[0].request_id : "", entries.length, all.length, provider, status, errorsOnly].join("|");
    if (tbody.dataset.signature === signature) return;
    tbody.dataset.signature = signature;
    tbody.replaceChildren(...entries.map(journalRow));
    $("#journal-count").textContent = filtered ? `${entries.length} of ${all.length}` : all.length ? String(all.length) : "";
    const empty = $("#journal-empty");
    empty.hidden = entries.length > 0;
    empty.textContent = all.length ? "No request matches these filters." : "No provider request yet.";
  }

  function journalRow(e) {
    return el(
      "tr",
      { class: e.status >= 400 || e.status === 0 ? "failed" : "" },
      el("td", { class: "small time" }, clockTime(e.time)),
      el("td", { class: "request" }, el("span", { class: "method" }, e.method), " ", el("span", { class: "path" }, breakablePath(e.path)), e.key ? el("div", { class: "muted small" }, e.key) : null),
      el("td", { class: "provider-col" }, e.provider),
      el("td", { class: "status" }, e.status ? httpBadge(e.status) : el("span", { class: "badge http-5xx" }, "no answer")),
      el("td", { class: "num small latency" }, `${e.latency_ms.toFixed(1)} ms`),
      // a webhook the mock sent (mockserver/webhooks.py), not a request it received
      el("td", { class: "scenario" }, e.attempt ? el("span", { class: "badge scenario" }, `webhook #${e.attempt}`) : e.scenario ? el("span", { class: "badge scenario" }, e.scenario) : ""),
      el("td", { class: "message" }, e.error || ""),
    );
  }

  // ---------------------------------------------------------------- providers
  function snippets(prefix, base, forms = []) {
    const key = "sk-anything";
    const out = [];
    // a declared provider: its create as curl, from its declaration, and the client's generate
    forms.forEach((form, i) => {
      const [model, spec] = Object.entries(form.models)[0];
      const size = spec.sizes[0];
      const image = spec.image ? `${ORIGIN}/__mock/sample-image?size=${size}` : null;
      const body = declaredBody(form, { model, prompt: "A cat in a hat", seconds: spec.durations[0], size, image });
      out.push({
        label: i ? `curl ${form.create_path}` : "curl",
        text: `curl -X ${form.method} "${base}${form.create_path}" \\\n  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\\n  -d ${shellQuote(JSON.stringify(body))}`,
      });
      if (i) return;
      const imageArg = image ? `image="${image}", ` : "";
      out.push({ label: "sora_client", text: `from sora_client import SoraClient\n\nwith SoraClient("${form.client}", base_url="${base}", api_key="${key}") as client:\n    job = client.generate(\n        "A cat in a hat", ${imageArg}model="${model}", seconds=${spec.durations[0]}, size="${size}",\n        path="cat.mp4",\n    )` });
    });
    if (forms.length) return out;
    if (prefix === "gptge" || prefix === "gptproto") {
      out.push({
        label: "curl",
        text: `curl -X POST "${base}/v1/videos" \\\n  -H "Authorization: Bearer ${key}" \\\n  -F "prompt=A cat in a hat" -F "model=sora-2" -F "seconds=4" -F "size=720x1280" \\\n  -F "input_reference=@cat-720x1280.png"`,
      });
      out.push({
        label: "openai",
        text: `from openai import OpenAI\n\nclient = OpenAI(api_key="${key}", base_url="${base}/v1")\nvideo = client.videos.create_and_poll(\n    model="sora-2", prompt="A cat in a hat", seconds="4", size="720x1280",\n    input_reference=open("cat-720x1280.png", "rb"),\n)\nclient.videos.download_content(video.id).write_to_file("cat.mp4")`,
      });
    }
    if (prefix === "gptproto") {
      // GPTProto's two other APIs take image URLs: the mock's sample image needs no upload
      const image = `${ORIGIN}/__mock/sample-image?size=720x1280`;
      out.push({
        label: "curl v3",
        text: `curl -X POST "${base}/api/v3/openai/reverse/sora-2/image-to-video" \\\n  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\\n  -d '{"model": "sora-2", "prompt": "A cat in a hat", "size": "small", "orientation": "portrait", "duration": 10,\n       "images": ["${image}"]}'`,
      });
      out.push({
        label: "curl chat",
        text: `curl -N "${base}/v1/chat/completions" \\\n  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\\n  -d '{"model": "sora-2", "stream": true, "messages": [{"role": "user", "content": [\n        {"type": "text", "text": "A cat in a hat, duration: 4s"},\n        {"type": "image_url", "image_url": {"url": "${image}"}}]}]}'`,
      });
    }
    if (prefix === "vtrix") {
      out.push({
        label: "curl",
        text: `curl -X POST "${base}/model/v1/generation" \\\n  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\\n  -d '{"model": "sora_2_pro_i2v", "prompt": "A cat in a hat", "size": "720x1280", "seconds": "4",\n       "input_reference": "${ORIGIN}/__mock/sample-image?size=720x1280"}'`,
      });
    }
    out.push({ label: "sora_client", text: `from sora_client import SoraClient\n\nwith SoraClient("${CLIENT_NAMES[prefix]}", base_url="${base}", api_key="${key}") as client:\n    job = client.generate("A cat in a hat", image="cat-720x1280.png", seconds=4, path="cat.mp4")` });
    return out;
  }

  async function loadProviders() {
    const { ok, body } = await api("/");
    if (!ok) return;
    const box = $("#providers");
    box.replaceChildren();
    const journalProvider = $("#journal-provider");
    const chosen = journalProvider.value;
    journalProvider.replaceChildren(el("option", { value: "" }, "all"), ...Object.keys(body.providers).map((p) => el("option", { value: p }, p)));
    journalProvider.value = chosen;
    learnApis(body.providers);
    fillApiSelect();
    syncForm();
    for (const [prefix, info] of Object.entries(body.providers)) {
      // the providers whose snippets are written out above keep them; the others' come from
      // their declarations
      const forms = HAND_WRITTEN.has(prefix) ? [] : info.contracts.filter((c) => c.declared).map((c) => c.declared);
      const tabs = snippets(prefix, info.base_url, forms);
      const tablist = el("div", { class: "tabs", role: "tablist", "aria-label": `${prefix} snippets` });
      const panels = [];
      tabs.forEach((tab, i) => {
        const id = `snippet-${prefix}-${i}`;
        const button = el("button", { type: "button", role: "tab", id: `${id}-tab`, "aria-controls": id, "aria-selected": i === 0 ? "true" : "false", tabindex: i === 0 ? "0" : "-1" }, tab.label);
        const panel = el("div", { role: "tabpanel", id, "aria-labelledby": `${id}-tab`, class: "snippet", hidden: i !== 0 }, el("pre", { tabindex: "0" }, el("code", {}, tab.text)), copyButton(tab.text, `${prefix} ${tab.label} snippet`));
        button.addEventListener("click", () => showTab(tablist, panels, i));
        button.addEventListener("keydown", (e) => {
          const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
          if (!step) return;
          const next = (i + step + tabs.length) % tabs.length;
          showTab(tablist, panels, next);
          tablist.children[next].focus();
        });
        tablist.append(button);
        panels.push(panel);
      });
      const apis = info.contracts.map((c) => el("li", {}, el("a", { href: c.url }, c.name), el("span", { class: "muted small" }, ` · ${plural(c.operations.length, "operation")}`)));
      box.append(
        el(
          "article",
          { class: "provider", "aria-labelledby": `provider-${prefix}` },
          el("h3", { id: `provider-${prefix}` }, prefix),
          el("div", { class: "base-url" }, el("code", {}, info.base_url), copyButton(info.base_url, `${prefix} base URL`)),
          el("p", { class: "muted small" }, "stands in for ", el("code", {}, info.live_base_url || "–")),
          el("ul", { class: "contracts" }, apis),
          tablist,
          panels,
        ),
      );
    }
  }

  function showTab(tablist, panels, index) {
    Array.from(tablist.children).forEach((tab, i) => {
      tab.setAttribute("aria-selected", i === index ? "true" : "false");
      tab.tabIndex = i === index ? 0 : -1;
      panels[i].hidden = i !== index;
    });
  }

  // ---------------------------------------------------------------- job page
  function statusCurl(job) {
    const spec = APIS[job.api];
    if (!spec || !spec.statusPath) return null;
    return `curl -H "Authorization: Bearer $API_KEY" ${shellQuote(ORIGIN + spec.statusPath(job.id))}`;
  }

  async function openJob(id) {
    state.selected = id;
    state.jobPageStatus = null;
    const section = $("#job-section");
    section.hidden = false;
    $("#jobs-section").hidden = true;
    $("#job-heading").textContent = `Job ${id}`;
    $("#job-body").replaceChildren(el("p", { class: "muted" }, "Loading…"));
    await renderJob(true);
    $("#job-heading").focus();
  }

  function closeJob() {
    state.jobPage = null;
    $("#job-section").hidden = true;
    $("#jobs-section").hidden = false;
  }

  // the job's terminal event for its callback_url (GET /__mock/jobs/{id}: `webhook`)
  function webhookText(hook) {
    const last = hook.last || {};
    const answer = last.status ? `answered ${last.status}` : last.error || "";
    if (hook.state === "pending") return `pending: POSTed to ${hook.url} when the job ends`;
    if (hook.state === "delivered") return `delivered (${hook.event}) to ${hook.url}, attempt ${hook.attempts}, ${answer}`;
    if (hook.state === "retrying") return `retrying: attempt ${hook.attempts} of ${hook.max_attempts} failed (${last.error}); next at ${clockTime(hook.next_at)} on the mock's clock`;
    if (hook.state === "given_up") return `given up after ${plural(hook.attempts, "attempt")} to ${hook.url} (${last.error})`;
    return `not sent (${last.error})`;
  }

  async function providerStatus(job) {
    const spec = APIS[job.api];
    if (!spec || !spec.statusPath) return { note: "Chat mode has no status endpoint: the job reports on the event stream that created it." };
    const key = $("#create-key").value.trim() || "sk-demo";
    const response = await api(spec.statusPath(job.id), { headers: { Authorization: `Bearer ${key}` } });
    return { status: response.status, body: response.body };
  }

  async function renderJob(force = false) {
    const id = state.selected;
    const { ok, status, body: job } = await api(`/__mock/jobs/${encodeURIComponent(id)}`);
    const box = $("#job-body");
    if (!ok) {
      box.replaceChildren(el("p", { class: "result error" }, status === 404 ? `No job ${id} (the mock was reset?)` : errorMessage(job)));
      state.jobPage = null;
      return;
    }
    // a webhook attempt (its state, and a journal entry more) redraws the page too
    const hookChanged = (page) => JSON.stringify(page.webhook || null) !== JSON.stringify(job.webhook || null);
    const changed = !state.jobPage || state.jobPage.status !== job.status || hookChanged(state.jobPage);
    state.jobPage = job;
    syncSelected();
    if (!force && !changed) {
      const bar = $("#job-progress");
      if (bar) bar.value = job.progress;
      const pct = $("#job-pct");
      if (pct) pct.textContent = `${Math.round(job.progress * 100)} %`;
      const times = $("#job-timings");
      if (times) times.textContent = timings(job);
      return;
    }
    // the provider-shaped status is fetched on open and when the status changes only, so the
    // dashboard does not take its share of a scenario meant for your client
    const [providerView, journal] = await Promise.all([providerStatus(job), api(`/__mock/journal?limit=1000&job_id=${encodeURIComponent(id)}`)]);
    const done = job.status === "completed";
    const media = (name) => `/__mock/media/${encodeURIComponent(job.id)}/${name}`;
    const curl = statusCurl(job);
    const download = `curl -o ${job.id.replace(/[^\w.-]/g, "_")}.mp4 ${shellQuote(ORIGIN + media("video.mp4"))}`;
    const facts = el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Status"), el("dd", {}, statusBadge(job.status), " ", el("progress", { id: "job-progress", max: "1", value: String(job.progress), "aria-label": "Job progress" }), el("span", { id: "job-pct", class: "pct" }, `${Math.round(job.progress * 100)} %`)),
      el("dt", {}, "API"), el("dd", {}, `${job.api} · ${job.model}`),
      el("dt", {}, "Asked"), el("dd", {}, `${job.width}x${job.height}, ${job.seconds} s`),
      el("dt", {}, "Prompt"), el("dd", {}, job.prompt),
      el("dt", {}, "Timings"), el("dd", { id: "job-timings" }, timings(job)),
      el("dt", {}, "Planned"), el("dd", {}, `queue ${duration(job.planned.queue_seconds)}, render ${duration(job.planned.render_seconds)}, then ${job.planned.outcome}`),
      el("dt", {}, "Scenario"), el("dd", {}, job.scenario || "none"),
      job.replay ? [el("dt", {}, "Replayed from"), el("dd", {}, `cassette ${job.replay.cassette}`)] : null,
      job.error ? [el("dt", {}, "Failure"), el("dd", { class: "error-text" }, `${job.error.code || ""} ${job.error.message || ""}`)] : null,
      job.notes.length ? [el("dt", {}, "Notes"), el("dd", {}, job.notes.join(" · "))] : null,
      el("dt", {}, "Reference image"), el("dd", {}, job.has_reference_image ? "yes" : "none (placeholder frame)"),
      job.webhook ? [el("dt", {}, "Webhook"), el("dd", { id: "job-webhook" }, webhookText(job.webhook))] : null,
    );
    const mediaBox = done
      ? el(
          "div",
          { class: "media" },
          el("figure", {}, el("video", { id: "job-video", src: media("video.mp4"), controls: true, muted: true, loop: true, playsinline: true, preload: "metadata", "aria-label": `Video of ${job.id}` }), el("figcaption", {}, "video.mp4")),
          // a replayed job has the recorded video only
          job.replay ? null : el("figure", {}, el("img", { src: media("thumbnail.webp"), alt: `Thumbnail of ${job.id}` }), el("figcaption", {}, "thumbnail.webp")),
          job.replay ? null : el("figure", { class: "sprites" }, el("img", { src: media("spritesheet.jpg"), alt: `Spritesheet of ${job.id}` }), el("figcaption", {}, "spritesheet.jpg")),
        )
      : el("p", { class: "muted media-wait" }, job.status === "failed" ? "The job failed: no video." : "The video appears here when the job completes.");
    const statusJson = providerView.note
      ? el("p", { class: "muted" }, providerView.note)
      : el("div", {}, el("p", { class: "muted small" }, "GET ", breakablePath(APIS[job.api].statusPath(job.id)), ` → ${providerView.status}`), el("pre", { class: "json", tabindex: "0" }, el("code", {}, JSON.stringify(providerView.body, null, 2))));
    const entries = journal.ok ? journal.body.data.slice().reverse() : [];
    const journalTable = entries.length
      ? el("table", { class: "journal" }, el("caption", { class: "visually-hidden" }, "Requests about this job"), el("thead", {}, el("tr", {}, ["Time", "Request", "Provider", "Status", "Latency", "Scenario", "Message"].map((h) => el("th", { scope: "col", class: { Provider: "provider-col", Latency: "num latency" }[h] }, h)))), el("tbody", {}, entries.map(journalRow)))
      : el("p", { class: "muted" }, "No request in this process's journal names this job.");
    const video = mediaBox.querySelector("video");
    if (video) video.style.aspectRatio = `${job.width} / ${job.height}`; // its box before it loads
    // el() skips a null child, replaceChildren() would print it as "null": only what there is
    const snippetsBox = [
      curl ? el("div", { class: "snippet" }, el("pre", { tabindex: "0" }, el("code", {}, curl)), copyButton(curl, "status curl")) : null,
      done ? el("div", { class: "snippet" }, el("pre", { tabindex: "0" }, el("code", {}, download)), copyButton(download, "download curl")) : null,
    ].filter(Boolean);
    // only chat mode has no status to curl
    if (!snippetsBox.length) snippetsBox.push(el("p", { class: "muted" }, "Chat mode has no status endpoint to curl; the download curl appears here when the job completes."));
    box.replaceChildren(
      el("div", { class: "job-grid" }, el("div", {}, facts, el("div", { class: "buttons" }, el("button", { type: "button", class: "primary", id: "job-run", disabled: job.status === "completed" || job.status === "failed" || !state.clock || state.clock.kind !== "virtual", onclick: () => runToCompletion() }, "Run to completion"), el("button", { type: "button", id: "job-refresh", onclick: () => renderJob(true) }, "Refresh provider view"))), mediaBox),
      el("h3", {}, "Copy as curl"),
      ...snippetsBox,
      el("h3", {}, "Provider-shaped status"),
      statusJson,
      el("h3", {}, "Journal entries"),
      el("div", { class: "table-wrap" }, journalTable),
    );
    box.querySelectorAll(".table-wrap").forEach(watchOverflow);
    showJobRequests(id);
  }

  // What each request about this job carried (GET /__mock/requests: fields, the image's size and
  // hash, headers without credentials), appended to the job page below its journal entries.
  async function showJobRequests(id) {
    const { ok, body } = await api(`/__mock/requests?limit=50&job_id=${encodeURIComponent(id)}`);
    const box = $("#job-body");
    if (!ok || state.selected !== id || !box || $("#job-requests")) return;
    const carried = (r) => {
      const shown = { ...(r.query && Object.keys(r.query).length ? { query: r.query } : {}), ...(r.fields ? { fields: r.fields } : {}), headers: r.headers };
      if (r.fields_truncated) shown.fields = "(more than 8 KiB: left out)";
      return JSON.stringify(shown, null, 2);
    };
    const items = body.data.slice().reverse().map((r) =>
      el(
        "details",
        { class: "request-data" },
        el("summary", {}, `${r.method} ${r.path} → ${r.status}`, r.operation ? ` · ${r.operation}` : "", r.image ? ` · image ${r.image.size} B, sha256 ${r.image.sha256.slice(0, 12)}…` : ""),
        el("pre", { class: "request-json", tabindex: "0" }, el("code", {}, carried(r))),
      ),
    );
    box.append(
      el("section", { id: "job-requests" }, el("h3", {}, "What the requests carried"), items.length ? items : el("p", { class: "muted" }, "No request names this job.")),
    );
  }

  async function runToCompletion() {
    const job = selectedJob();
    if (!job) return;
    const fresh = await api(`/__mock/jobs/${encodeURIComponent(job.id)}`);
    if (!fresh.ok) return;
    await refreshClock();
    const seconds = remaining(fresh.body);
    await advance(Math.ceil(seconds * 1000) / 1000 + 0.001);
  }

  // ---------------------------------------------------------------- routing and polling
  function route() {
    const match = window.location.hash.match(/^#job\/(.+)$/);
    if (match) openJob(decodeURIComponent(match[1]));
    else if (state.jobPage || !$("#job-section").hidden) closeJob();
  }

  async function refresh() {
    if (state.polling) return;
    state.polling = true;
    try {
      await refreshClock();
      setConnected(true);
      await Promise.all([refreshJobs(), refreshJournal(), refreshScenarios()]);
      if (state.jobPage) await renderJob(false);
    } catch (err) {
      // the mock restarted or is gone: say so once, keep polling
      if (!document.body.classList.contains("offline")) toast(`Cannot reach the mock: ${err.message || err}`, "error");
      setConnected(false);
    } finally {
      state.polling = false;
    }
  }

  // the clock pill says whether the admin API answers: no green dot for a mock that is gone
  function setConnected(connected) {
    const was = !document.body.classList.contains("offline");
    document.body.classList.toggle("offline", !connected);
    const pill = $("#clock-pill");
    pill.classList.toggle("disconnected", !connected);
    pill.title = connected ? "The mock answers" : "The mock does not answer: is it still running?";
    if (!connected) {
      $("#clock-kind").textContent = "disconnected";
    } else if (!was) {
      $("#clock-kind").textContent = `${state.clock.kind} clock`;
      toast("The mock answers again");
    }
  }

  function startPolling() {
    let timer = null;
    const tick = async () => {
      await refresh();
      timer = setTimeout(tick, POLL_MS);
    };
    document.addEventListener("visibilitychange", () => {
      // a hidden tab costs the server nothing
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
      } else if (timer === null) {
        tick();
      }
    });
    tick();
  }

  function init() {
    const apiSelect = $("#create-api");
    fillApiSelect();
    const savedKey = localStorage.getItem("sora-mock-key");
    if (savedKey) $("#create-key").value = savedKey;
    apiSelect.addEventListener("change", syncForm);
    $("#create-model").addEventListener("change", syncForm);
    $("#create-size").addEventListener("change", syncImage);
    $("#create-fit").addEventListener("change", syncImage);
    $$('input[name="image-source"]').forEach((r) => r.addEventListener("change", syncImage));
    $("#create-file").addEventListener("change", (e) => takeFile(e.target.files[0]));
    const zone = $("#drop-zone");
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      takeFile(e.dataTransfer.files[0]);
    });
    $("#create-form").addEventListener("submit", createJob);
    $("#scenario-form").addEventListener("submit", addScenario);
    $("#scenario-clear").addEventListener("click", clearScenarios);
    $("#scenario-scope").addEventListener("change", () => {
      const scope = $("#scenario-scope").value;
      $("#scope-key-field").hidden = scope !== "key";
      $("#scope-provider-field").hidden = scope !== "provider";
    });
    $("#faults-form").addEventListener("submit", applyFaults);
    $("#fault-rate").addEventListener("input", showRate);
    $("#advance-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const seconds = Number($("#advance-seconds").value);
      if (!(seconds >= 0)) {
        toast("Advance by a number of seconds, 0 or more", "error");
        return;
      }
      advance(seconds);
    });
    $$("[data-advance]").forEach((b) => b.addEventListener("click", () => advance(Number(b.dataset.advance))));
    $("#run-selected").addEventListener("click", runToCompletion);
    $("#filter-provider").addEventListener("change", refreshJobs);
    $("#filter-status").addEventListener("change", refreshJobs);
    // a reset forgets everything every client sees: asked first, Cancel focused
    const resetDialog = $("#reset-dialog");
    $("#reset-button").addEventListener("click", () => {
      const jobs = state.jobs.size;
      $("#reset-what").textContent = `It forgets every job (${plural(jobs, "job")} listed now), scenario rule, uploaded image and journal entry.`;
      resetDialog.showModal();
    });
    resetDialog.addEventListener("close", async () => {
      if (resetDialog.returnValue !== "reset") return;
      resetDialog.returnValue = "";
      const { ok } = await api("/__mock/reset", { method: "POST" });
      toast(ok ? "The mock forgot every job, rule and journal entry" : "Reset failed", ok ? "info" : "error");
      window.location.hash = "";
      state.selected = null;
      await Promise.all([refresh(), loadFaults()]);
    });
    for (const id of ["#journal-provider", "#journal-status", "#journal-errors"]) $(id).addEventListener("change", refreshJournal);
    $$(".table-wrap").forEach(watchOverflow);
    // the header stays on top: what comes into view lands below it, however it wraps
    const header = $(".topbar");
    new ResizeObserver(() => {
      document.documentElement.style.scrollPaddingTop = `${header.offsetHeight + 12}px`;
    }).observe(header);
    window.addEventListener("hashchange", route);
    syncForm();
    showRate();
    loadProviders();
    loadFaults();
    route();
    startPolling();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
