"""The routes of the router, one module per group; each is a function returning an `APIRouter`."""
