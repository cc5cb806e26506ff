# certwright's image: the operator (python -m certwright) and, with another command, the HTTP-01 solver.
#   docker build -t certwright .                                   (a Debian bookworm Python base)
#   docker build --build-arg BASE=<image with python3 and venv> .  (the test environment passes its own)
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

# A CA bundle for pip behind a TLS-inspecting proxy (the environment mounts the machine's): unset, pip's own.
ARG PIP_CERT

# Dependencies first, at the exact versions the tests run (constraints.txt), so that a code change
# rebuilds only the last layer. Then what the image never runs goes, in the same layer so that it
# costs nothing: pip and setuptools, and the kubernetes client's asyncio copy (68 MB; certwright
# uses the synchronous client).
COPY pyproject.toml constraints.txt README.md /src/
COPY operator/certwright/__init__.py /src/operator/certwright/__init__.py
RUN python3 -m venv /opt/certwright \
 && /opt/certwright/bin/pip install --no-cache-dir --disable-pip-version-check --constraint /src/constraints.txt /src \
 && /opt/certwright/bin/pip uninstall --yes --quiet certwright \
 && /opt/certwright/bin/pip uninstall --yes --quiet pip setuptools \
 && rm -rf /opt/certwright/lib/python3*/site-packages/kubernetes/aio /src

# certwright itself, compiled once here: its root filesystem is read-only when it runs.
COPY operator/certwright /opt/certwright/app/certwright
RUN /opt/certwright/bin/python -m compileall -q /opt/certwright/app

# A name for uid 65532, for tools that ask the password database.
RUN echo 'certwright:x:65532:65532:certwright:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'certwright:x:65532:' >> /etc/group

ENV PATH=/opt/certwright/bin:$PATH PYTHONPATH=/opt/certwright/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["python", "-m", "certwright"]
