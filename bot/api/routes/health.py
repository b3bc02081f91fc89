"""`GET /healthz`: a liveness check for load balancers (no key, no storage)."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/healthz", summary="Liveness check for load balancers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
