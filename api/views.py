"""API views: parse with a serializer, call the same services/selectors as the HTML views."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, pagination, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from batches import owners, tasks
from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.files import archive, downloads
from chemreport import salts, units
from molfiles.parsing import BatchRefused
from predictions import selectors, services
from predictions.models import Source
from predictions.serving import get_model
from predictions.throttling import BatchUploadThrottle

from . import serializers as api
from .schema import ErrorSerializer


class Pages(pagination.PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


class RowPages(Pages):
    page_size = 50
    max_page_size = 500


def _predict_item(text: str, outcome, request: Request) -> dict:
    if isinstance(outcome, services.PredictionRefused):
        return {"input": text, "ok": False, "error": str(outcome)}
    prediction = api.PredictionSerializer(outcome.prediction, context={"request": request}).data
    return {
        "input": text,
        "ok": True,
        "created": outcome.created,
        "standardisation_note": outcome.standardisation_note,
        "parent_note": salts.parent_note(
            outcome.standardisation_note, outcome.prediction.formula, outcome.prediction.outputs
        ),
        "prediction": prediction,
    }


class PredictView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="predict",
        summary="Predict one molecule or a list",
        description=(
            "Each input is answered in input order: `ok` with its stored prediction (new ones "
            "are private unless `public` is true), or `ok: false` with RDKit's reason. The call "
            "succeeds even when some molecules are invalid."
        ),
        request=api.PredictSerializer,
        responses={200: api.PredictResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        form = api.PredictSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        texts = form.validated_data["smiles"]
        outcomes = services.predictions_get_or_create_many(
            texts=texts, source=Source.API, public=form.validated_data["public"]
        )
        results = [_predict_item(t, o, request) for t, o in zip(texts, outcomes)]
        return Response({"results": results})


class PredictionListQuery(serializers.Serializer):
    q = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    featured = serializers.BooleanField(required=False, default=False)


class PredictionListView(generics.ListAPIView):
    serializer_class = api.PredictionSerializer
    pagination_class = Pages

    @extend_schema(
        operation_id="predictions_list",
        summary="Listed (public) predictions, featured first, newest first",
        description="`q` searches the canonical SMILES, the input and the title.",
        parameters=[PredictionListQuery],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = PredictionListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.gallery_list(
            query=query.validated_data["q"], featured_only=query.validated_data["featured"]
        )


class PredictionDetailView(APIView):
    @extend_schema(
        operation_id="prediction_get",
        summary="One prediction, with its nearest measured molecules",
        responses={200: api.PredictionDetailSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        prediction = selectors.prediction_get(public_id)
        body = api.PredictionDetailSerializer(prediction, context={"request": request}).data
        return Response(body)


class ModelView(APIView):
    @extend_schema(operation_id="model_get", responses={200: api.ModelInfoSerializer})
    def get(self, request: Request) -> Response:
        model = get_model()
        outputs = [
            {
                "label": spec.label,
                "unit": spec.unit,
                "training_range": units.clean_range(spec.range),
                **services.blend_weights(model, index),
            }
            for index, spec in enumerate(model.outputs)
        ]
        return Response(
            {
                "name": model.name,
                "version": model.version,
                "weights_sha256": model.weights_hash,
                "kind": model.kind,
                "max_tokens": model.max_tokens,
                "outputs": outputs,
                "test_metrics": model.test_metrics,
                "salts": salts.gaps(),
            }
        )


def _own_batch(request: Request, public_id: str):
    return batch_selectors.batch_get(public_id=public_id, owners=owners.api_owner_keys(request))


class BatchListView(APIView):
    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":  # uploads: also counted with the form's per visitor
            throttles.append(BatchUploadThrottle())
        return throttles

    @extend_schema(
        operation_id="batches_list",
        summary="Your batches (the token's, or this session's), newest first",
        responses={200: api.BatchSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        batches = batch_selectors.batch_list(owners=owners.api_owner_keys(request))
        return Response(api.BatchSerializer(batches, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="batch_create",
        summary="Start a batch from a file (multipart) or a JSON list of SMILES",
        request={
            "multipart/form-data": api.BatchCreateSerializer,
            "application/json": api.BatchCreateSerializer,
        },
        responses={201: api.BatchSerializer},
    )
    def post(self, request: Request) -> Response:
        form = api.BatchCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            batch = batch_services.batch_create_any(
                upload=data.get("file"),
                smiles=data.get("smiles"),
                ids=data.get("ids"),
                smiles_column=data["smiles_column"],
                id_column=data["id_column"],
                owner_key=owners.api_owner_key(request),
            )
        except BatchRefused as refusal:
            raise serializers.ValidationError({"file": [str(refusal)]}) from refusal
        tasks.enqueue_batch(batch)
        body = api.BatchSerializer(batch, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class BatchDetailView(APIView):
    @extend_schema(operation_id="batch_get", responses={200: api.BatchSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        batch = _own_batch(request, public_id)
        return Response(api.BatchSerializer(batch, context={"request": request}).data)


class BatchCancelView(APIView):
    @extend_schema(operation_id="batch_cancel", request=None, responses={200: api.BatchSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        batch = _own_batch(request, public_id)
        batch_services.batch_cancel(batch=batch)
        batch.refresh_from_db()
        return Response(api.BatchSerializer(batch, context={"request": request}).data)


class RowsQuery(serializers.Serializer):
    errors = serializers.BooleanField(
        required=False, default=False, help_text="Only the rows that failed."
    )


class BatchRowsView(generics.ListAPIView):
    serializer_class = api.BatchRowSerializer
    pagination_class = RowPages

    @extend_schema(
        operation_id="batch_rows",
        summary="A batch's rows in input order (those done so far), paged",
        parameters=[RowsQuery],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = RowsQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.batch = _own_batch(self.request, self.kwargs["public_id"])
        only_errors = query.validated_data["errors"]
        return batch_selectors.batch_rows(batch=self.batch, errors_only=only_errors)

    def get_serializer_context(self) -> dict:
        # The batch names the model that made its rows (their percentiles among approved drugs).
        return {**super().get_serializer_context(), "batch": getattr(self, "batch", None)}


class AnyRenderer(BaseRenderer):
    """Lets a download answer whatever Accept says; the file is returned as it is."""

    media_type = "*/*"
    format = "download"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class NotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "not_ready"
    default_detail = "Not built yet."


class BatchDownloadView(APIView):
    renderer_classes = [JSONRenderer, AnyRenderer]

    @extend_schema(
        operation_id="batch_download",
        summary="results.csv or results.sdf (streamed), or results.zip once the worker built it",
        parameters=[
            OpenApiParameter("filename", str, OpenApiParameter.PATH, enum=list(downloads.NAMES)),
            OpenApiParameter(
                "precision",
                str,
                OpenApiParameter.QUERY,
                enum=["full"],
                description="results.csv: `full` for unrounded values (default: rounded).",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "chemical/x-mdl-sdfile"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            (409, "application/json"): OpenApiResponse(
                ErrorSerializer, description="results.zip not built: POST .../zip first."
            ),
        },
    )
    def get(self, request: Request, public_id: str, filename: str):
        if filename not in downloads.NAMES:
            raise Http404("No such download.")
        batch = _own_batch(request, public_id)
        full = request.query_params.get("precision") == "full"
        response = downloads.download_response(batch, filename, full=full, request=request)
        if response is None:
            raise NotReady(
                f"results.zip is not built yet: POST /api/v1/batches/{batch.public_id}/zip, "
                "then poll it until its status is ready."
            )
        return response


def _zip_body(request: Request, batch) -> dict:
    state = archive.zip_state(batch=batch)
    body = api.ZipStateSerializer(state).data
    if state.status == "ready":
        body["url"] = request.build_absolute_uri(
            f"/api/v1/batches/{batch.public_id}/{archive.ZIP_NAME}"
        )
    return body


class BatchZipView(APIView):
    @extend_schema(operation_id="batch_zip_state", responses={200: api.ZipStateSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        return Response(_zip_body(request, _own_batch(request, public_id)))

    @extend_schema(
        operation_id="batch_zip_build",
        summary="Have the worker build results.zip of a finished batch (pictures included)",
        request=None,
        responses={202: api.ZipStateSerializer},
    )
    def post(self, request: Request, public_id: str) -> Response:
        batch = _own_batch(request, public_id)
        if archive.zip_request(batch=batch):
            tasks.build_batch_zip(str(batch.pk))
        return Response(_zip_body(request, batch), status=status.HTTP_202_ACCEPTED)
