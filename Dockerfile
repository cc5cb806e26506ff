# certwright's image: the operator (python -m certwright) and, with another command, the HTTP-01 solver.
#   docker build -t certwright .                                   (a Debian bookworm Python base)
#   docker build --build-arg BASE=<image with python3 and venv> .  (the test environment passes its own)
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

# A CA bundle for pip behind a TLS-inspecting proxy (the environment mounts the machine's): unset, pip's own.
ARG PIP_CERT

# Dependencies first, at the exact versions the tests run (constraints.txt), so that a code change
# rebuilds only the last layers.
COPY pyproject.toml constraints.txt README.md /src/
COPY operator/certwright/__init__.py /src/operator/certwright/__init__.py
RUN python3 -m venv /opt/certwright \
 && /opt/certwright/bin/pip install --no-cache-dir --disable-pip-version-check --constraint /src/constraints.txt /src \
 && /opt/certwright/bin/pip uninstall --yes --quiet certwright

COPY operator /src/operator
RUN /opt/certwright/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps /src \
 && rm -rf /src

ENV PATH=/opt/certwright/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["python", "-m", "certwright"]
