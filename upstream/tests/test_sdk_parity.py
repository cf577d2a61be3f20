"""The official Huawei Cloud SDK (huaweicloudsdkbss, unchanged) against the simulator over loopback HTTP.

Every public operation the portal uses is called through BssClient with GlobalCredentials, so the
simulator's paths, parameters, signatures and response shapes are the platform's as the SDK knows them.
No database is needed: run with ``-p no:django``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from huaweicloudsdkbss.v2 import (
    AdjustAccountReq,
    ApplyEnterpriseRealnameAuthsReq,
    ApplyIndividualRealnameAuthsReq,
    BankCardInfoV2,
    BssClient,
    CancelCustomerOrderReq,
    CancelCustomerOrderRequest,
    CheckSubcustomerUserReq,
    CheckUserIdentityRequest,
    CreateCustomerV2Req,
    CreateEnterpriseRealnameAuthenticationRequest,
    CreatePersonalRealnameAuthRequest,
    CreateSubCustomerRequest,
    CustomerInfoV2,
    DemandProductInfo,
    EnterprisePersonNew,
    ListCitiesRequest,
    ListCountiesRequest,
    ListCustomerOnDemandResourcesRequest,
    ListCustomerOrdersRequest,
    ListCustomersBalancesDetailRequest,
    ListFreeResourceInfosReq,
    ListFreeResourceInfosRequest,
    ListFreeResourceUsagesReq,
    ListFreeResourceUsagesRequest,
    ListIndirectPartnersRequest,
    ListOnDemandResourceRatingsRequest,
    ListPartnerAdjustRecordsRequest,
    ListPartnerBalancesRequest,
    ListPayPerUseCustomerResourcesRequest,
    ListProvincesRequest,
    ListResourceSpecsRequest,
    ListResourceTypesRequest,
    ListServiceTypesRequest,
    ListSubCustomersRequest,
    PayCustomerOrderV3Req,
    PayOrdersRequest,
    QueryCustomerOnDemandResourcesReq,
    QueryCustomersBalancesReq,
    QueryIndirectPartnersReq,
    QueryResourcesReq,
    QuerySubCustomerListReq,
    RateOnDemandReq,
    ReclaimToPartnerAccountBalancesReq,
    ReclaimToPartnerAccountRequest,
    ResourceSpecsQueryReq,
    SendVerificationCodeV2Req,
    SendVerificationMessageCodeRequest,
    ShowCustomerOrderDetailsRequest,
    ShowRealnameAuthenticationReviewResultRequest,
    UpdateCustomerAccountAmountRequest,
)
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from upstream.simulator.testing import SimulatorProcess


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(
        customers=60, seed=23, data_dir=tmp_path_factory.mktemp("sdk-sim"), rate_limit=0
    ) as process:
        yield process


@pytest.fixture(scope="module")
def bss(sim):
    credentials = GlobalCredentials("demo-ak", "demo-sk", "demo-distributor")
    return BssClient.new_builder().with_credentials(credentials).with_endpoints([sim.url]).build()


def awaiting_partner_payment(bss, *, combined: bool):
    orders = bss.list_customer_orders(ListCustomerOrdersRequest(status=6, limit=100)).order_infos
    return next(
        o
        for o in orders
        if o.agent_pay_info and o.agent_pay_info.is_agent_pay and bool(o.sub_order_infos) is combined
    )


def a_customer_with(bss, operation, make_request, items):
    """The first direct customer for whom `operation` lists something."""
    customers = bss.list_sub_customers(ListSubCustomersRequest(body=QuerySubCustomerListReq(limit=100)))
    for c in customers.customer_infos:
        response = operation(make_request(c.customer_id))
        if getattr(response, items):
            return c.customer_id, response
    pytest.fail(f"no customer with {items}")


def test_list_customer_orders_pages_typed_orders_with_their_combinations(bss):
    page = bss.list_customer_orders(ListCustomerOrdersRequest(limit=100, order_by="-createTime"))
    assert page.total_count >= len(page.order_infos) > 0
    times = [o.create_time for o in page.order_infos]
    assert times == sorted(times, reverse=True)
    combined = next(o for o in page.order_infos if o.sub_order_infos)
    assert combined.official_amount == pytest.approx(sum(s.official_amount for s in combined.sub_order_infos))
    assert {s.status for s in combined.sub_order_infos} == {combined.status}
    assert combined.amount_info.discounts is not None and combined.measure_id == 1


def test_show_customer_order_details_returns_the_order_and_its_line_items(bss):
    order = awaiting_partner_payment(bss, combined=True)
    details = bss.show_customer_order_details(
        ShowCustomerOrderDetailsRequest(order_id=order.order_id, limit=2)
    )
    assert details.order_info.order_id == order.order_id
    assert details.order_info.pending_payment_end_time
    assert len(details.order_line_items) == 2 <= details.total_count
    children = {s.order_id for s in details.order_info.sub_order_infos}
    assert {i.order_id for i in details.order_line_items} <= children


def test_pay_orders_pays_a_combined_order_once(bss):
    order = awaiting_partner_payment(bss, combined=True)
    child = order.sub_order_infos[0].order_id
    with pytest.raises(ClientRequestException) as refused:
        bss.pay_orders(PayOrdersRequest(body=PayCustomerOrderV3Req(order_id=child)))
    assert (refused.value.status_code, refused.value.error_code) == (400, "CBC.99000089")

    bss.pay_orders(PayOrdersRequest(body=PayCustomerOrderV3Req(order_id=order.order_id, use_coupon="NO")))
    with pytest.raises(ClientRequestException) as again:
        bss.pay_orders(PayOrdersRequest(body=PayCustomerOrderV3Req(order_id=order.order_id)))
    assert again.value.error_code == "CBC.99003106"
    paid = bss.show_customer_order_details(
        ShowCustomerOrderDetailsRequest(order_id=order.order_id)
    ).order_info
    assert paid.status == 5 and {s.status for s in paid.sub_order_infos} == {5}


def test_cancel_customer_order_cancels_an_order_awaiting_payment(bss):
    order = awaiting_partner_payment(bss, combined=False)
    bss.cancel_customer_order(
        CancelCustomerOrderRequest(body=CancelCustomerOrderReq(order_id=order.order_id))
    )
    shown = bss.show_customer_order_details(ShowCustomerOrderDetailsRequest(order_id=order.order_id))
    assert shown.order_info.status == 4


def test_list_pay_per_use_customer_resources_lists_a_customers_yearly_monthly_resources(bss):
    _customer_id, page = a_customer_with(
        bss,
        bss.list_pay_per_use_customer_resources,
        lambda cid: ListPayPerUseCustomerResourcesRequest(body=QueryResourcesReq(customer_id=cid, limit=50)),
        "data",
    )
    resource = page.data[0]
    assert resource.resource_id and resource.expire_time and resource.status in (2, 3, 4, 5)
    assert resource.region_code and resource.resource_spec_code and page.total_count >= len(page.data)


def test_list_customer_on_demand_resources_lists_a_customers_on_demand_resources(bss):
    _customer_id, page = a_customer_with(
        bss,
        bss.list_customer_on_demand_resources,
        lambda cid: ListCustomerOnDemandResourcesRequest(
            body=QueryCustomerOnDemandResourcesReq(customer_id=cid)
        ),
        "resources",
    )
    assert page.resources[0].resource_type_code and page.resources[0].status in range(1, 7)


def test_list_free_resource_infos_and_usages_answer_in_the_sdk_shapes(bss):
    # The platform's operation lists the caller's own packages: the partner has none.
    own = bss.list_free_resource_infos(ListFreeResourceInfosRequest(body=ListFreeResourceInfosReq(limit=10)))
    assert own.total_count == 0 and own.free_resource_packages == []
    usages = bss.list_free_resource_usages(
        ListFreeResourceUsagesRequest(body=ListFreeResourceUsagesReq(free_resource_ids=["no-such-item"]))
    )
    assert usages.free_resources == []


def test_list_on_demand_resource_ratings_prices_a_linear_product(bss):
    product = DemandProductInfo(
        id="disk",
        cloud_service_type="hws.service.type.ebs",
        resource_type="hws.resource.type.volume",
        resource_spec="SAS",
        region="cn-north-4",
        resource_size=40,
        size_measure_id=17,
        usage_factor="Duration",
        usage_value=720,
        usage_measure_id=4,
        subscription_num=1,
    )
    rating = bss.list_on_demand_resource_ratings(
        ListOnDemandResourceRatingsRequest(body=RateOnDemandReq(project_id="p1", product_infos=[product]))
    )
    assert Decimal(str(rating.official_website_amount)) == Decimal("0.0007") * 40 * 720
    assert rating.product_rating_results[0].id == "disk" and rating.currency == "CNY"


def test_the_product_catalogue_lists_service_types_resource_types_and_specs(bss):
    services = bss.list_service_types(ListServiceTypesRequest(x_language="en_US", limit=100))
    assert "Elastic Cloud Server" in {s.service_type_name for s in services.service_types}
    types = bss.list_resource_types(ListResourceTypesRequest(limit=100))
    assert any(t.resource_type_code == "hws.resource.type.vm" for t in types.resource_types)
    specs = bss.list_resource_specs(
        ListResourceSpecsRequest(
            body=ResourceSpecsQueryReq(
                cloud_service_type="hws.service.type.ec2",
                resource_type="hws.resource.type.vm",
                region_code="cn-north-4",
                charge_mode="3",
                limit=2,
            )
        )
    )
    assert len(specs.cloud_service_basics) == 2 and specs.page_info.next_marker


def test_the_existing_operations_answer_the_sdk_too(bss):
    customers = bss.list_sub_customers(
        ListSubCustomersRequest(body=QuerySubCustomerListReq(association_type="2", limit=100))
    )
    assert customers.count >= len(customers.customer_infos) > 0
    resellers = bss.list_indirect_partners(
        ListIndirectPartnersRequest(body=QueryIndirectPartnersReq(limit=10))
    )
    assert resellers.count == 2
    balances = bss.list_partner_balances(ListPartnerBalancesRequest())
    assert {b.account_type for b in balances.account_balances} == {1, 2}
    customer_id = customers.customer_infos[0].customer_id
    detail = bss.list_customers_balances_detail(
        ListCustomersBalancesDetailRequest(
            body=QueryCustomersBalancesReq(customer_infos=[CustomerInfoV2(customer_id=customer_id)])
        )
    )
    assert detail.customer_balances[0].customer_id == customer_id
    allocated = bss.update_customer_account_amount(
        UpdateCustomerAccountAmountRequest(body=AdjustAccountReq(customer_id=customer_id, amount=1.5))
    )
    reclaimed = bss.reclaim_to_partner_account(
        ReclaimToPartnerAccountRequest(
            body=ReclaimToPartnerAccountBalancesReq(customer_id=customer_id, amount=1.5)
        )
    )
    records = bss.list_partner_adjust_records(
        ListPartnerAdjustRecordsRequest(customer_id=customer_id, limit=100)
    )
    trans_ids = {r.trans_id for r in records.records}
    assert {allocated.transfer_id, reclaimed.trans_id} <= trans_ids


# --- customer onboarding --------------------------------------------------------------------------------


def test_create_sub_customer_and_check_user_identity_answer_the_sdk(bss, sim):
    check = bss.check_user_identity(
        CheckUserIdentityRequest(
            body=CheckSubcustomerUserReq(search_type="name", search_value="sdk-customer")
        )
    )
    assert check.check_result == "available"
    mobile = "13700001234"
    bss.send_verification_message_code(
        SendVerificationMessageCodeRequest(
            body=SendVerificationCodeV2Req(receiver_type=1, mobile_phone=mobile, scene=29, lang="zh-cn")
        )
    )
    code = sim.admin("GET", f"/_sim/onboarding/verification-codes?mobile_phone={mobile}")["codes"][0]["code"]
    created = bss.create_sub_customer(
        CreateSubCustomerRequest(
            body=CreateCustomerV2Req(
                domain_name="sdk-customer",
                mobile_phone=mobile,
                verification_code=code,
                xaccount_id="sdk-app-1",
                xaccount_type="portal",
                password="Sdk-Passw0rd",
                is_close_market_ms="false",
                include_association_result=True,
            )
        )
    )
    assert created.domain_name == "sdk-customer" and len(created.domain_id) == 32
    customers = bss.list_sub_customers(
        ListSubCustomersRequest(body=QuerySubCustomerListReq(account_name="sdk-customer"))
    )
    assert [(c.customer_id, c.association_type) for c in customers.customer_infos] == [
        (created.domain_id, "2")
    ]
    check = bss.check_user_identity(
        CheckUserIdentityRequest(
            body=CheckSubcustomerUserReq(search_type="mobile", search_value=f"0086-{mobile}")
        )
    )
    assert (check.check_result, check.mobile_remain_available_num) == ("available", 4)
    with pytest.raises(ClientRequestException) as taken:
        bss.create_sub_customer(
            CreateSubCustomerRequest(
                body=CreateCustomerV2Req(
                    domain_name="sdk-customer", xaccount_id="sdk-app-2", xaccount_type="portal"
                )
            )
        )
    assert taken.value.error_code == "CBC.99000038"


def test_real_name_applications_and_their_review_answer_the_sdk(bss, sim):
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": "reject"})
    enterprise = bss.create_sub_customer(
        CreateSubCustomerRequest(body=CreateCustomerV2Req(xaccount_id="sdk-app-3", xaccount_type="portal"))
    )
    submitted = bss.create_enterprise_realname_authentication(
        CreateEnterpriseRealnameAuthenticationRequest(
            body=ApplyEnterpriseRealnameAuthsReq(
                customer_id=enterprise.domain_id,
                identify_type=1,
                certificate_type=0,
                verified_file_url=["sdk/licence.pdf", "sdk/front.jpg", "sdk/back.png"],
                corp_name="深圳示例网络科技有限公司",
                verified_number="91440300MA5FXXXX1Q",
                reg_country="CN",
                reg_address="深圳市南山区",
                xaccount_type="portal",
                enterprise_person=EnterprisePersonNew(
                    legel_name="陈七", legel_id_number="440305198807071234", certifier_role="legalPerson"
                ),
            )
        )
    )
    assert submitted.is_review == 1
    result = bss.show_realname_authentication_review_result(
        ShowRealnameAuthenticationReviewResultRequest(customer_id=enterprise.domain_id)
    )
    assert result.review_result == 0
    sim.admin("POST", "/_sim/onboarding/review/finish", {})
    result = bss.show_realname_authentication_review_result(
        ShowRealnameAuthenticationReviewResultRequest(customer_id=enterprise.domain_id)
    )
    assert result.review_result == 1 and result.opinion

    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 0, "outcome": "approve"})
    person = bss.create_sub_customer(
        CreateSubCustomerRequest(body=CreateCustomerV2Req(xaccount_id="sdk-app-4", xaccount_type="portal"))
    )
    mobile = "13700005678"
    bss.send_verification_message_code(
        SendVerificationMessageCodeRequest(
            body=SendVerificationCodeV2Req(
                receiver_type=1, mobile_phone=mobile, scene=18, customer_id=person.domain_id, timeout=5
            )
        )
    )
    code = sim.admin("GET", f"/_sim/onboarding/verification-codes?mobile_phone={mobile}")["codes"][0]["code"]
    submitted = bss.create_personal_realname_auth(
        CreatePersonalRealnameAuthRequest(
            body=ApplyIndividualRealnameAuthsReq(
                customer_id=person.domain_id,
                identify_type=4,
                verified_file_url=["sdk/face.jpg"],
                name="周八",
                verified_number="110101199003074512",
                change_type=-1,
                xaccount_type="portal",
                bank_card_info=BankCardInfoV2(
                    bank_account="6222020200112233445", areacode="0086", mobile=mobile, verification_code=code
                ),
            )
        )
    )
    assert submitted.is_review == 0
    result = bss.show_realname_authentication_review_result(
        ShowRealnameAuthenticationReviewResultRequest(customer_id=person.domain_id)
    )
    assert result.review_result == 2
    with pytest.raises(ClientRequestException) as refused:
        bss.create_enterprise_realname_authentication(
            CreateEnterpriseRealnameAuthenticationRequest(
                body=ApplyEnterpriseRealnameAuthsReq(
                    customer_id=enterprise.domain_id,
                    identify_type=1,
                    certificate_type=0,
                    verified_file_url=["sdk/licence.docx"],
                    corp_name="深圳示例网络科技有限公司",
                    verified_number="91440300MA5FXXXX1Q",
                    xaccount_type="portal",
                )
            )
        )
    assert refused.value.error_code == "CBC.99000100"


def test_the_region_tree_answers_the_sdk(bss):
    provinces = bss.list_provinces(ListProvincesRequest(x_language="zh_cn", limit=1000))
    assert provinces.count == len(provinces.provinces) == 31
    cities = bss.list_cities(ListCitiesRequest(province_code="CN-44", limit=1000))
    shenzhen = next(c for c in cities.cities if c.name == "深圳市")
    counties = bss.list_counties(ListCountiesRequest(city_code=shenzhen.code, offset=0, limit=1000))
    assert "南山区" in {c.name for c in counties.counties} and counties.count == len(counties.counties)
    with pytest.raises(ClientRequestException) as unknown:
        bss.list_counties(ListCountiesRequest(city_code="CN-44-999"))
    assert unknown.value.error_code == "CBC.0100"
